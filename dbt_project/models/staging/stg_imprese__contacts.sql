with copies as (
    select
        *,
        {{ latest_copy_rank(['company_vat', 'contact_date']) }} as copy_rank
    from {{ source('raw', 'imprese') }}
)

select
    {{ normalise_vat('company_vat') }} as company_vat,
    cast(contact_date as date) as contact_date,
    {{ normalise_label('association') }} as association,
    cast(ateco_code as varchar) as ateco_code,
    cast(municipality as varchar) as municipality,
    cast(employees_band as varchar) as employees_band,
    {{ normalise_label('channel') }} as channel,
    cast(availability as varchar) as availability,
    cast(available_forms as varchar) as available_forms,
    cast(knows_l193 as boolean) as knows_l193,
    {{ lineage_columns() }}
from copies
where copy_rank = 1
