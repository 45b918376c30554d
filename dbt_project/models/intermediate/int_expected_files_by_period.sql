-- One row per file a sender owes for a period (indicators.md, Q1): for each expected
-- sender, by its cadence, a monthly sender owes one file per month of the period, a
-- quarterly one one per quarter, a half-yearly one the file of each half-year the period
-- touches, a yearly or cumulative one a single file whose reference date is on or after
-- the period's end. A fixed-period file is the one whose reference date falls in its slot
-- (month, quarter, half-year). Only slots ended by the cut-off date are owed, from the
-- first period any file covers on, and only within the sender's active dates. A file
-- counts when it was loaded or was an unchanged copy of a loaded one; a file refused as
-- a whole does not. It is on time when it reached the inbox at most `days_allowed` days
-- after its slot's end.
with recursive periods as (
    select
        period,
        period_start,
        period_end
    from {{ ref('int_periods_spined') }}
),

senders as (
    select * from {{ ref('stg_reference__expected_senders') }}
),

files as (
    select
        file_sha256,
        feed,
        sender,
        reference_date,
        arrived_date
    from {{ ref('stg_ops__ingest_files') }}
    where status in ('loaded', 'duplicate') and reference_date is not null
),

months (month_start) as (
    -- from the January of the first period, so that a half-year the first period is in
    -- has its slot
    select make_date(cast(extract(year from min(period_start)) as integer), 1, 1) from periods
    union all
    select cast({{ dbt.dateadd('month', 1, 'months.month_start') }} as date)
    from months
    where months.month_start < (select max(periods.period_end) from periods)
),

fixed_slots as (
    select
        'mensile' as cadence,
        month_start as slot_start,
        cast({{ dbt.dateadd('day', -1, dbt.dateadd('month', 1, 'month_start')) }} as date)
            as slot_end
    from months
    union all
    select
        'trimestrale' as cadence,
        month_start as slot_start,
        cast({{ dbt.dateadd('day', -1, dbt.dateadd('month', 3, 'month_start')) }} as date)
            as slot_end
    from months
    where extract(month from month_start) in (1, 4, 7, 10)
    union all
    select
        'semestrale' as cadence,
        month_start as slot_start,
        cast({{ dbt.dateadd('day', -1, dbt.dateadd('month', 6, 'month_start')) }} as date)
            as slot_end
    from months
    where extract(month from month_start) in (1, 7)
),

owed as (
    -- monthly and quarterly slots inside the period
    select
        periods.period,
        senders.feed,
        senders.sender,
        senders.cadence,
        senders.days_allowed,
        senders.active_from,
        senders.active_to,
        fixed_slots.slot_start,
        fixed_slots.slot_end,
        false as is_open_ended
    from periods
    inner join senders
        on senders.cadence in ('mensile', 'trimestrale')
    inner join fixed_slots
        on
            senders.cadence = fixed_slots.cadence
            and fixed_slots.slot_start >= periods.period_start
            and fixed_slots.slot_end <= periods.period_end
    union all
    -- half-years the period touches
    select
        periods.period,
        senders.feed,
        senders.sender,
        senders.cadence,
        senders.days_allowed,
        senders.active_from,
        senders.active_to,
        fixed_slots.slot_start,
        fixed_slots.slot_end,
        false as is_open_ended
    from periods
    inner join senders
        on senders.cadence = 'semestrale'
    inner join fixed_slots
        on
            fixed_slots.cadence = 'semestrale'
            and fixed_slots.slot_start <= periods.period_end
            and fixed_slots.slot_end >= periods.period_start
    union all
    -- yearly and cumulative senders: one file reaching the period's end
    select
        periods.period,
        senders.feed,
        senders.sender,
        senders.cadence,
        senders.days_allowed,
        senders.active_from,
        senders.active_to,
        periods.period_start as slot_start,
        periods.period_end as slot_end,
        true as is_open_ended
    from periods
    inner join senders
        on senders.cadence in ('annuale', 'cumulativo')
),

-- Files are owed from the first period any file of the inbox covers: the programme's
-- data (cases opened years before) go back further than the partners' sendings do.
first_sending as (
    select min(coalesce(coverage_start, reference_date)) as first_day
    from {{ ref('stg_ops__ingest_files') }}
    where status in ('loaded', 'duplicate')
),

in_force as (
    select
        *,
        {{ add_days('slot_end', 'days_allowed') }} as due_date
    from owed
    where
        slot_end <= {{ cutoff_date() }}
        and slot_end >= (select first_sending.first_day from first_sending)
        and (active_from is null or slot_end >= active_from)
        and (active_to is null or slot_start <= active_to)
)

select
    in_force.period,
    in_force.feed,
    in_force.sender,
    in_force.cadence,
    in_force.slot_start,
    in_force.slot_end,
    in_force.due_date,
    count(distinct files.file_sha256) as files_received,
    count(files.file_sha256) > 0 as is_received,
    coalesce(bool_or(files.arrived_date <= in_force.due_date), false) as is_on_time
from in_force
left join files
    on
        in_force.feed = files.feed
        and in_force.sender = files.sender
        and (
            (in_force.is_open_ended and files.reference_date >= in_force.slot_end)
            or (
                not in_force.is_open_ended
                and files.reference_date between in_force.slot_start and in_force.slot_end
            )
        )
group by
    in_force.period,
    in_force.feed,
    in_force.sender,
    in_force.cadence,
    in_force.slot_start,
    in_force.slot_end,
    in_force.due_date
