-- The steward's list of type-B social cooperatives when it has rows, else the
-- project's default seed: one list replaces the other entirely, never a union.
with steward as (
    select
        cast(ragione_sociale as varchar) as company_name,
        {{ normalise_vat('partita_iva') }} as vat,
        'steward' as list_source
    from {{ source('raw', 'reference_cooperative_sociali') }}
    where {{ normalise_vat('partita_iva') }} is not null
),

project_default as (
    select
        cast(ragione_sociale as varchar) as company_name,
        {{ normalise_vat('partita_iva') }} as vat,
        'default' as list_source
    from {{ ref('cooperative_sociali_default') }}
    where not exists (select 1 from steward)
),

both_lists as (
    select * from steward
    union all
    select * from project_default
)

select
    vat,
    min(company_name) as company_name,
    min(list_source) as list_source
from both_lists
group by vat
