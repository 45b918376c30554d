with copies as (
    select
        *,
        {{ latest_copy_rank(['person_id', 'course_code']) }} as copy_rank
    from {{ source('raw', 'cfp_iscritti') }}
)

select
    {{ person_columns() }},
    cast(course_code as varchar) as course_code,
    cast(enrolment_date as date) as enrolment_date,
    cast(attended_hours as double) as attended_hours,
    cast(outcome as varchar) as outcome,
    cast(withdrawal_date as date) as withdrawal_date,
    {{ lineage_columns() }}
from copies
where copy_rank = 1
