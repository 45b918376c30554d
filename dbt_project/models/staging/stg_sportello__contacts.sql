with copies as (
    select
        *,
        {{ latest_copy_rank(['contact_id']) }} as copy_rank
    from {{ source('raw', 'sportello') }}
)

select
    cast(contact_id as varchar) as contact_id,
    cast(contact_date as date) as contact_date,
    cast(contact_time as varchar) as contact_time,
    {{ normalise_label('channel') }} as channel,
    {{ normalise_label('user_type') }} as user_type,
    {{ person_columns() }},
    cast(birth_year as integer) as birth_year,
    cast(sex as varchar) as sex,
    cast(nationality as varchar) as nationality,
    {{ normalise_label('main_request') }} as main_request,
    {{ normalise_label('referred_to') }} as referred_to,
    {{ lineage_columns() }}
from copies
where copy_rank = 1
