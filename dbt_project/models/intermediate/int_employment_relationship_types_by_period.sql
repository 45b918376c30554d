-- The contract type of each relationship on each period's last day (indicators.md): the
-- type of its latest event dated on or before that day, or of its earliest event when none
-- is that early. Listed for the periods the relationship overlaps (start on or before the
-- period's last day, end blank or on or after its first day): the only ones an indicator
-- asks about (D1 starts in the period, D2 is active on its last day).
with events as (
    select
        {{ relationship_id('person_id', 'employer_code', 'relationship_start_date') }}
            as relationship_id,
        event_date,
        {{ co_event_order('event_type') }} as event_order,
        communication_id,
        contract_code
    from {{ ref('stg_provincia_co__events') }}
),

relationship_periods as (
    select
        relationships.relationship_id,
        relationships.first_contract_code,
        periods.period,
        periods.period_end
    from {{ ref('int_employment_relationships_built') }} as relationships
    inner join {{ ref('int_periods_spined') }} as periods
        on
            relationships.start_date <= periods.period_end
            and (relationships.end_date is null or relationships.end_date >= periods.period_start)
),

latest_on_or_before as (
    select
        relationship_periods.relationship_id,
        relationship_periods.period,
        events.contract_code,
        row_number() over (
            partition by relationship_periods.relationship_id, relationship_periods.period
            order by events.event_date desc, events.event_order desc, events.communication_id desc
        ) as event_rank
    from relationship_periods
    inner join events
        on
            relationship_periods.relationship_id = events.relationship_id
            and events.event_date <= relationship_periods.period_end
)

select
    relationship_periods.relationship_id,
    relationship_periods.period,
    coalesce(latest_on_or_before.contract_code, relationship_periods.first_contract_code)
        as contract_code,
    {{ contract_group(
        'coalesce(latest_on_or_before.contract_code, relationship_periods.first_contract_code)'
    ) }} as contract_group
from relationship_periods
left join latest_on_or_before
    on
        relationship_periods.relationship_id = latest_on_or_before.relationship_id
        and relationship_periods.period = latest_on_or_before.period
        and latest_on_or_before.event_rank = 1
