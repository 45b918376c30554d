-- The steward's list of expected senders when it has rows, else the project's default
-- seed: one list replaces the other entirely, never a union (as for the cooperatives).
with steward as (
    select
        cast(flusso as varchar) as feed,
        cast(mittente as varchar) as sender,
        lower(trim(cast(cadenza as varchar))) as cadence,
        cast(giorni_concessi as integer) as days_allowed,
        cast(attivo_dal as date) as active_from,
        cast(attivo_al as date) as active_to,
        'steward' as list_source
    from {{ source('raw', 'reference_expected_senders') }}
),

project_default as (
    select
        cast(flusso as varchar) as feed,
        cast(mittente as varchar) as sender,
        lower(trim(cast(cadenza as varchar))) as cadence,
        cast(giorni_concessi as integer) as days_allowed,
        cast(attivo_dal as date) as active_from,
        cast(attivo_al as date) as active_to,
        'default' as list_source
    from {{ ref('expected_senders_default') }}
    where not exists (select 1 from steward)
)

select * from steward
union all
select * from project_default
