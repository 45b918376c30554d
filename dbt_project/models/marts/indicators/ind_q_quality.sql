-- Q1 Completezza degli invii, Q2 Righe scartate, Q3 Persone collegate tra fonti (%)
-- (definitions: indicators.md). Representation in the long table:
--   Q1: breakdown `fonte_mittente`, category `<feed>|<sender>` for every feed and sender met
--       in ops.ingest_files; value 1 when a file of that feed and sender, loaded or a
--       duplicate of an earlier one (an unchanged re-sending is still a sending), covers at
--       least one day of the period (coverage_start..coverage_end, or its reference date
--       when the file states no coverage), else 0; a refused file does not count; the
--       total counts the pairs with 1.
--   Q2: breakdown `fonte`, category `<feed>`; value = rows rejected in validation in the
--       loaded files received (received_at) in the period; the total sums the feeds.
--   Q3: the persons of A1 found in at least one feed other than servizi_sociali (any date).
with periods as (
    select * from {{ ref('int_periods_spined') }}
),

files as (
    select * from {{ ref('stg_ops__ingest_files') }}
),

senders as (
    select distinct
        feed,
        sender
    from files
),

q1_rows as (
    select
        periods.period,
        senders.feed || '|' || senders.sender as feed_sender,
        max(case when files.file_sha256 is not null then 1 else 0 end) as is_covered
    from periods
    cross join senders
    left join files
        on
            senders.feed = files.feed
            and senders.sender = files.sender
            and files.status in ('loaded', 'duplicate')
            and coalesce(files.coverage_start, files.reference_date) <= periods.period_end
            and coalesce(files.coverage_end, files.reference_date) >= periods.period_start
    group by periods.period, senders.feed, senders.sender
),

q2_rows as (
    select
        periods.period,
        files.feed,
        sum(coalesce(files.rows_rejected, 0)) as rows_rejected
    from periods
    inner join files
        on
            files.received_date between periods.period_start and periods.period_end
            and files.status = 'loaded'
    group by periods.period, files.feed
),

q3_wide as (
    select
        followed.period,
        followed.person_id,
        (
            persons.in_provincia_co
            or persons.in_provincia_tirocini
            or persons.in_cfp
            or persons.in_cooperative
            or persons.in_sportello
        ) as is_linked
    from {{ ref('int_persons_followed_by_period') }} as followed
    inner join {{ ref('int_persons_resolved') }} as persons
        on followed.person_id = persons.person_id
),

rated as (
    {{ member_rows('q3_wide', 'Q3', 'person_id', in_numerator='is_linked') }}
)

{{ summed_rows('q1_rows', 'Q1', 'fonte_mittente', 'feed_sender', 'is_covered') }}
union all
{{ summed_rows('q2_rows', 'Q2', 'fonte', 'feed', 'rows_rejected') }}
union all
{{ rate_members('rated') }}
