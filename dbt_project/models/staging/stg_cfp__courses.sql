with copies as (
    select
        *,
        {{ latest_copy_rank(['course_code']) }} as copy_rank
    from {{ source('raw', 'cfp_corsi') }}
)

select
    cast(course_code as varchar) as course_code,
    cast(title as varchar) as title,
    {{ normalise_label('professional_area') }} as professional_area,
    {{ normalise_label('site') }} as site,
    {{ normalise_label('course_type') }} as course_type,
    cast(start_date as date) as start_date,
    cast(end_date as date) as end_date,
    cast(planned_hours as double) as planned_hours,
    cast(funding as varchar) as funding,
    {{ lineage_columns() }}
from copies
where copy_rank = 1
