-- Q1 Completezza degli invii, Q2 Righe scartate, Q3 Persone collegate tra fonti (%)
-- (definitions: indicators.md). Representation in the long table:
--   Q1: a rate. Breakdown `fonte_mittente`, category `<feed>|<sender>` for every expected
--       sender (stg_reference__expected_senders): numerator the files owed for the period
--       (int_expected_files_by_period) that were received, denominator the files owed; the
--       total sums every sender's. Beside it, breakdown `puntualita`, same categories:
--       numerator the owed files received within the days allowed. A sender that owes
--       nothing in a period (its half-year not yet over) has 0 out of 0 there.
--   Q2: breakdown `fonte`, category `<feed>`; value = rows rejected in validation in the
--       loaded files whose reference date (the date their name or title row states) falls
--       in the period; the total sums the feeds. A file stating no date counts nowhere.
--   Q3: the persons of A1 found in at least one feed other than servizi_sociali (any date):
--       the feeds with `links: true` in var('feeds') (dbt_project.yml).
with periods as (
    select * from {{ ref('int_periods_spined') }}
),

files as (
    select * from {{ ref('stg_ops__ingest_files') }}
),

owed_files as (
    select
        period,
        feed || '|' || sender as feed_sender,
        cast(slot_start as varchar) || '/' || cast(slot_end as varchar) as slot_key,
        is_received,
        is_on_time
    from {{ ref('int_expected_files_by_period') }}
),

q1_rows as (
    select
        'Q1' as indicator_id,
        period,
        'totale' as breakdown,
        'totale' as category,
        cast(null as double) as value,
        cast(sum(case when is_received then 1 else 0 end) as bigint) as numerator,
        cast(count(*) as bigint) as denominator
    from owed_files
    group by period
    union all
    select
        'Q1' as indicator_id,
        period,
        'fonte_mittente' as breakdown,
        feed_sender as category,
        cast(null as double) as value,
        cast(sum(case when is_received then 1 else 0 end) as bigint) as numerator,
        cast(count(*) as bigint) as denominator
    from owed_files
    group by period, feed_sender
    union all
    select
        'Q1' as indicator_id,
        period,
        'puntualita' as breakdown,
        feed_sender as category,
        cast(null as double) as value,
        cast(sum(case when is_on_time then 1 else 0 end) as bigint) as numerator,
        cast(count(*) as bigint) as denominator
    from owed_files
    group by period, feed_sender
),

q2_rows as (
    select
        periods.period,
        files.feed,
        sum(coalesce(files.rows_rejected, 0)) as rows_rejected
    from periods
    inner join files
        on
            files.reference_date between periods.period_start and periods.period_end
            and files.status = 'loaded'
    group by periods.period, files.feed
),

q3_wide as (
    select
        followed.period,
        followed.person_id,
        (
            {%- for feed in linking_feeds() %}
                {% if not loop.first %}or {% endif %}persons.in_{{ feed }}
            {%- endfor %}
        ) as is_linked
    from {{ ref('int_persons_followed_by_period') }} as followed
    inner join {{ ref('int_persons_resolved') }} as persons
        on followed.person_id = persons.person_id
),

rated as (
    {{ member_rows('q3_wide', 'Q3', 'person_id', in_numerator='is_linked') }}
)

select * from q1_rows
union all
{{ summed_rows('q2_rows', 'Q2', 'fonte', 'feed', 'rows_rejected') }}
union all
{{ rate_members('rated') }}
