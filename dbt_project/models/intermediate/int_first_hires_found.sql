-- A person's first hire: the earliest start of an employment relationship (internships
-- excluded) on or after the person's first Data presa in carico. Persons with no case
-- or no such relationship have no row.
select
    persons.person_id,
    persons.first_case_date,
    min(relationships.start_date) as first_hire_date,
    {{ days_between('persons.first_case_date', 'min(relationships.start_date)') }}
        as days_to_first_hire
from {{ ref('int_persons_resolved') }} as persons
inner join {{ ref('int_employment_relationships_built') }} as relationships
    on
        persons.person_id = relationships.person_id
        and not relationships.is_internship
        and relationships.start_date >= persons.first_case_date
group by persons.person_id, persons.first_case_date
