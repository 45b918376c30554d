-- Enrolments (person + course, latest copy) with their course's dates and labels. An
-- enrolment in a course that no Corsi sheet defines has no dates and is left out: it
-- counts in no B indicator (indicators.md).
select
    enrolments.person_id,
    enrolments.course_code,
    enrolments.enrolment_date,
    enrolments.outcome,
    enrolments.withdrawal_date,
    courses.start_date as course_start_date,
    courses.end_date as course_end_date,
    courses.professional_area,
    courses.site,
    courses.course_type
from {{ ref('stg_cfp__enrolments') }} as enrolments
inner join {{ ref('stg_cfp__courses') }} as courses
    on enrolments.course_code = courses.course_code
