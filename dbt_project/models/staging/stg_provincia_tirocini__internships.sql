with copies as (
    select
        *,
        {{ latest_copy_rank(['person_id', 'host_vat', 'start_date']) }} as copy_rank
    from {{ source('raw', 'provincia_tirocini') }}
)

select
    {{ person_columns() }},
    {{ normalise_vat('host_vat') }} as host_vat,
    cast(start_date as date) as start_date,
    {{ normalise_label('internship_type') }} as internship_type,
    cast(promoter as varchar) as promoter,
    cast(planned_end_date as date) as planned_end_date,
    cast(actual_end_date as date) as actual_end_date,
    cast(outcome as varchar) as outcome,
    cast(monthly_allowance_eur as double) as monthly_allowance_eur,
    {{ lineage_columns() }}
from copies
where copy_rank = 1
