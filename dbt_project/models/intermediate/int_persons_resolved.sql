-- One row per person (valid CF pseudonym) met in any feed. Sex and birth fields come
-- from the CF, so every feed carries the same values. The birth date here resolves the
-- century at the data's cut-off date; age bands resolve it again at each period's last day.
-- The feeds of persons come from var('feeds') (dbt_project.yml), one in_<feed> flag each.
{%- set person_feeds = person_feeds() %}

with person_rows as (
    {%- for feed, model in person_feeds %}
        select
            person_id,
            person_sex,
            person_birth_yy,
            person_birth_month,
            person_birth_day,
            person_born_abroad,
            '{{ feed }}' as feed
        from {{ ref(model) }}
        where person_id is not null
        {%- if not loop.last %}
            union all
        {%- endif %}
    {%- endfor %}
),

persons as (
    select
        person_id,
        min(person_sex) as sex,
        min(person_birth_yy) as birth_yy,
        min(person_birth_month) as birth_month,
        min(person_birth_day) as birth_day,
        max(case when person_born_abroad then 1 else 0 end) = 1 as born_abroad,
        {%- for feed, _ in person_feeds %}
            max(case when feed = '{{ feed }}' then 1 else 0 end) = 1 as in_{{ feed }}
            {%- if not loop.last %},{% endif %}
        {%- endfor %}
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
    {%- for feed, _ in person_feeds %}
        persons.in_{{ feed }}{% if not loop.last %},{% endif %}
    {%- endfor %}
from persons
left join first_cases
    on persons.person_id = first_cases.person_id
