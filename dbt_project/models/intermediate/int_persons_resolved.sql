-- One row per person (valid CF pseudonym) met in any feed. Sex and birth fields come
-- from the CF, so every feed carries the same values. The birth date here resolves the
-- century at the data's cut-off date; age bands resolve it again at each period's last day.
with person_rows as (
    select
        person_id,
        person_sex,
        person_birth_yy,
        person_birth_month,
        person_birth_day,
        person_born_abroad,
        'servizi_sociali' as feed
    from {{ ref('stg_servizi_sociali__cases') }}
    union all
    select
        person_id,
        person_sex,
        person_birth_yy,
        person_birth_month,
        person_birth_day,
        person_born_abroad,
        'provincia_co' as feed
    from {{ ref('stg_provincia_co__events') }}
    union all
    select
        person_id,
        person_sex,
        person_birth_yy,
        person_birth_month,
        person_birth_day,
        person_born_abroad,
        'provincia_tirocini' as feed
    from {{ ref('stg_provincia_tirocini__internships') }}
    union all
    select
        person_id,
        person_sex,
        person_birth_yy,
        person_birth_month,
        person_birth_day,
        person_born_abroad,
        'cfp' as feed
    from {{ ref('stg_cfp__enrolments') }}
    union all
    select
        person_id,
        person_sex,
        person_birth_yy,
        person_birth_month,
        person_birth_day,
        person_born_abroad,
        'cooperative' as feed
    from {{ ref('stg_cooperative__placements') }}
    union all
    select
        person_id,
        person_sex,
        person_birth_yy,
        person_birth_month,
        person_birth_day,
        person_born_abroad,
        'sportello' as feed
    from {{ ref('stg_sportello__contacts') }}
    where person_id is not null
),

persons as (
    select
        person_id,
        min(person_sex) as sex,
        min(person_birth_yy) as birth_yy,
        min(person_birth_month) as birth_month,
        min(person_birth_day) as birth_day,
        max(case when person_born_abroad then 1 else 0 end) = 1 as born_abroad,
        max(case when feed = 'servizi_sociali' then 1 else 0 end) = 1 as in_servizi_sociali,
        max(case when feed = 'provincia_co' then 1 else 0 end) = 1 as in_provincia_co,
        max(case when feed = 'provincia_tirocini' then 1 else 0 end) = 1
            as in_provincia_tirocini,
        max(case when feed = 'cfp' then 1 else 0 end) = 1 as in_cfp,
        max(case when feed = 'cooperative' then 1 else 0 end) = 1 as in_cooperative,
        max(case when feed = 'sportello' then 1 else 0 end) = 1 as in_sportello
    from person_rows
    group by person_id
),

first_cases as (
    select
        person_id,
        min(case_opened_date) as first_case_date
    from {{ ref('int_cases_classified') }}
    group by person_id
)

select
    persons.person_id,
    persons.sex,
    persons.birth_yy,
    persons.birth_month,
    persons.birth_day,
    {{ resolve_birth_date('persons.birth_yy', 'persons.birth_month', 'persons.birth_day',
        cutoff_date()) }} as birth_date,
    persons.born_abroad,
    first_cases.first_case_date,
    persons.in_servizi_sociali,
    persons.in_provincia_co,
    persons.in_provincia_tirocini,
    persons.in_cfp,
    persons.in_cooperative,
    persons.in_sportello
from persons
left join first_cases
    on persons.person_id = first_cases.person_id
