with copies as (
    select
        *,
        {{ latest_copy_rank(['communication_id']) }} as copy_rank
    from {{ source('raw', 'provincia_co') }}
)

select
    cast(communication_id as varchar) as communication_id,
    {{ person_columns() }},
    cast(event_type as varchar) as event_type,
    cast(event_date as date) as event_date,
    cast(relationship_start_date as date) as relationship_start_date,
    cast(planned_end_date as date) as planned_end_date,
    cast(contract_type as varchar) as contract_type,
    cast(contract_code as varchar) as contract_code,
    cast(employer_code as varchar) as employer_code,
    cast(employer_code_kind as varchar) as employer_code_kind,
    cast(ateco_code as varchar) as ateco_code,
    cast(work_municipality as varchar) as work_municipality,
    cast(working_time as varchar) as working_time,
    cast(weekly_hours as double) as weekly_hours,
    cast(occupation as varchar) as occupation,
    nullif(trim(incentive), '') as incentive,
    cast(termination_reason as varchar) as termination_reason,
    {{ lineage_columns() }}
from copies
where copy_rank = 1
