with copies as (
    select
        *,
        {{ latest_copy_rank(['person_id', 'district', 'case_opened_date']) }} as copy_rank
    from {{ source('raw', 'servizi_sociali') }}
)

select
    {{ person_columns() }},
    cast(district as varchar) as district,
    cast(case_opened_date as date) as case_opened_date,
    cast(case_closed_date as date) as case_closed_date,
    nullif(trim(citizenship), '') as citizenship,
    cast(legal_status as varchar) as legal_status,
    cast(institution as varchar) as institution,
    cast(sentence_end_date as date) as sentence_end_date,
    cast(closure_reason as varchar) as closure_reason,
    cast(needs as varchar) as needs,
    {{ lineage_columns() }}
from copies
where copy_rank = 1
