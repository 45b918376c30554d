-- C1 Tirocini e borse lavoro avviati, C2 Tirocini conclusi con assunzione (%)
-- (definitions: indicators.md). Only the provincia_tirocini feed counts: the CO copies of
-- internships are not counted again.
with periods as (
    select * from {{ ref('int_periods_spined') }}
),

internships as (
    select
        *,
        person_id || '|' || host_vat || '|' || cast(start_date as varchar) as internship_key
    from {{ ref('int_internships_followed') }}
),

c1_wide as (
    select
        periods.period,
        internships.internship_key,
        internships.internship_type
    from periods
    inner join internships
        on internships.start_date between periods.period_start and periods.period_end
),

c2_wide as (
    select
        periods.period,
        internships.internship_key,
        internships.internship_type,
        internships.ended_in_hire
    from periods
    inner join internships
        on internships.actual_end_date between periods.period_start and periods.period_end
),

counted as (
    {{ member_rows('c1_wide', 'C1', 'internship_key', [('tipo', 'internship_type')]) }}
),

rated as (
    {{ member_rows('c2_wide', 'C2', 'internship_key', [('tipo', 'internship_type')],
        in_numerator='ended_in_hire') }}
)

{{ count_members('counted') }}
union all
{{ rate_members('rated') }}
