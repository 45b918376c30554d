with copies as (
    select
        *,
        {{ latest_copy_rank(['person_id', 'cooperative', 'hire_date']) }} as copy_rank
    from {{ source('raw', 'cooperative') }}
)

select
    {{ person_columns() }},
    cast(cooperative as varchar) as cooperative,
    cast(hire_date as date) as hire_date,
    cast(end_date as date) as end_date,
    cast(contract_type as varchar) as contract_type,
    cast(weekly_hours as double) as weekly_hours,
    {{ normalise_label('job') }} as job,
    cast(disadvantaged as boolean) as disadvantaged,
    cast(gross_monthly_pay_eur as double) as gross_monthly_pay_eur,
    {{ lineage_columns() }}
from copies
where copy_rank = 1
