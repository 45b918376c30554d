-- One row per employment relationship (worker + employer code + Data Inizio Rapporto)
-- built from its CO events (indicators.md, "Employment relationship").
-- end_date: the Data Evento of its Cessazione (the latest, should there be two); else the
-- Data Fine Prevista of its latest Assunzione/Proroga/Trasformazione; null = open-ended.
-- Events of one day are ordered Assunzione < Proroga < Trasformazione < Cessazione, then by
-- Codice Comunicazione. A relationship any of whose events is of type C.01.00 (TIROCINIO)
-- is an internship, never employment.
with events as (
    select
        *,
        {{ relationship_id('person_id', 'employer_code', 'relationship_start_date') }}
            as relationship_id,
        {{ co_event_order('event_type') }} as event_order
    from {{ ref('stg_provincia_co__events') }}
),

ranked as (
    select
        *,
        row_number() over (
            partition by relationship_id
            order by event_date, event_order, communication_id
        ) as earliest_rank,
        row_number() over (
            partition by relationship_id
            order by
                case when event_type = 'Cessazione' then 1 else 0 end,
                event_date desc,
                event_order desc,
                communication_id desc
        ) as latest_planned_rank
    from events
),

relationships as (
    select
        relationship_id,
        person_id,
        employer_code,
        min(employer_code_kind) as employer_code_kind,
        relationship_start_date as start_date,
        count(*) as event_count,
        max(case when event_type = 'Cessazione' then event_date end) as termination_date,
        max(case when contract_code = 'C.01.00' then 1 else 0 end) = 1 as is_internship,
        max(
            case
                when incentive like '%193/2000%' or lower(incentive) like '%smuraglia%' then 1
                else 0
            end
        ) = 1 as has_l193_incentive
    from events
    group by relationship_id, person_id, employer_code, relationship_start_date
)

select
    relationships.relationship_id,
    relationships.person_id,
    relationships.employer_code,
    relationships.employer_code_kind,
    relationships.start_date,
    coalesce(
        relationships.termination_date,
        case when latest_planned.event_type <> 'Cessazione' then latest_planned.planned_end_date end
    ) as end_date,
    relationships.termination_date is not null as has_termination,
    earliest.contract_code as first_contract_code,
    relationships.is_internship,
    relationships.has_l193_incentive,
    relationships.event_count
from relationships
inner join ranked as earliest
    on
        relationships.relationship_id = earliest.relationship_id
        and earliest.earliest_rank = 1
inner join ranked as latest_planned
    on
        relationships.relationship_id = latest_planned.relationship_id
        and latest_planned.latest_planned_rank = 1
