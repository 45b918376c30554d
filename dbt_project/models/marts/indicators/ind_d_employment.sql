-- D1 Avviamenti al lavoro, D2 Persone occupate a fine periodo, D3 Tasso di occupazione a
-- fine periodo (%), D4/D5 Occupati a 6/12 mesi dal primo avviamento (%), D6 Giorni mediani
-- al primo avviamento (definitions: indicators.md). Internships (C.01.00) are never
-- employment. D1 and D2 count every relationship in the CO extract.
with periods as (
    select * from {{ ref('int_periods_spined') }}
),

employment as (
    select *
    from {{ ref('int_employment_relationships_built') }}
    where not is_internship
),

types as (
    select * from {{ ref('int_employment_relationship_types_by_period') }}
),

social_cooperatives as (
    select vat from {{ ref('stg_reference__cooperative_sociali') }}
),

-- D1: relationships starting in the period; the type is the one on the period's last day.
d1_wide as (
    select
        periods.period,
        employment.relationship_id,
        types.contract_group,
        case
            when employment.employer_code in (select social_cooperatives.vat from social_cooperatives)
                then 'cooperativa sociale'
            else 'impresa'
        end as employer_type,
        case when employment.has_l193_incentive then 'sì' else 'no' end as incentive_193
    from periods
    inner join employment
        on employment.start_date between periods.period_start and periods.period_end
    inner join types
        on employment.relationship_id = types.relationship_id and periods.period = types.period
),

-- Relationships active on the period's last day.
active_at_end as (
    select
        periods.period,
        periods.period_end,
        employment.person_id,
        types.contract_group
    from periods
    inner join employment
        on
            employment.start_date <= periods.period_end
            and (employment.end_date is null or employment.end_date >= periods.period_end)
    inner join types
        on employment.relationship_id = types.relationship_id and periods.period = types.period
),

d2_wide as (
    select
        active_at_end.period,
        active_at_end.person_id,
        persons.sex,
        period_cases.legal_status_group,
        active_at_end.contract_group
    from active_at_end
    left join {{ ref('int_persons_resolved') }} as persons
        on active_at_end.person_id = persons.person_id
    left join {{ ref('int_person_cases_for_period') }} as period_cases
        on
            active_at_end.person_id = period_cases.person_id
            and active_at_end.period = period_cases.period
),

-- D3: persons in the programme on the period's last day.
in_programme_at_end as (
    select distinct
        periods.period,
        cases.person_id
    from periods
    inner join {{ ref('int_cases_classified') }} as cases
        on
            cases.case_opened_date <= periods.period_end
            and (cases.case_closed_date is null or cases.case_closed_date >= periods.period_end)
),

d3_wide as (
    select
        in_programme_at_end.period,
        in_programme_at_end.person_id,
        persons.sex,
        period_cases.legal_status_group,
        exists(
            select 1 from active_at_end
            where
                active_at_end.person_id = in_programme_at_end.person_id
                and active_at_end.period = in_programme_at_end.period
        ) as is_employed
    from in_programme_at_end
    inner join {{ ref('int_persons_resolved') }} as persons
        on in_programme_at_end.person_id = persons.person_id
    left join {{ ref('int_person_cases_for_period') }} as period_cases
        on
            in_programme_at_end.person_id = period_cases.person_id
            and in_programme_at_end.period = period_cases.period
),

-- D4, D5, D6: the cohort of persons whose first hire falls in the period.
cohort as (
    select * from {{ ref('int_first_hire_cohorts_by_period') }}
),

counted as (
    {{ member_rows('d1_wide', 'D1', 'relationship_id', [
        ('tipo_contratto', 'contract_group'),
        ('tipo_datore', 'employer_type'),
        ('agevolazione_193', 'incentive_193'),
    ]) }}
    union all
    {{ member_rows('d2_wide', 'D2', 'person_id', [
        ('sesso', 'sex'),
        ('posizione_giuridica', 'legal_status_group'),
        ('tipo_contratto', 'contract_group'),
    ]) }}
),

rated as (
    {{ member_rows('d3_wide', 'D3', 'person_id', [
        ('sesso', 'sex'),
        ('posizione_giuridica', 'legal_status_group'),
    ], in_numerator='is_employed') }}
),

{%- for indicator_id, lag_days in [('D4', 182), ('D5', 365)] %}

    {{ indicator_id | lower }}_cohort as (
        select
            cohort.period,
            cohort.person_id,
            exists(
                select 1 from employment
                where
                    employment.person_id = cohort.person_id
                    and employment.start_date <= {{ add_days('cohort.first_hire_date', lag_days) }}
                    and (
                        employment.end_date is null
                        or employment.end_date >= {{ add_days('cohort.first_hire_date', lag_days) }}
                    )
            ) as is_employed
        from cohort
    ),

    -- Published only when the period's last day + {{ lag_days }} days is on or before the
    -- data's cut-off date; before that, value, numerator and denominator are null.
    {{ indicator_id | lower }}_rows as (
        select
            '{{ indicator_id }}' as indicator_id,
            periods.period,
            'totale' as breakdown,
            'totale' as category,
            cast(null as double) as value,
            case
                when {{ add_days('periods.period_end', lag_days) }} <= {{ cutoff_date() }}
                    then count(distinct case when cohort.is_employed then cohort.person_id end)
            end as numerator,
            case
                when {{ add_days('periods.period_end', lag_days) }} <= {{ cutoff_date() }}
                    then count(distinct cohort.person_id)
            end as denominator
        from periods
        left join {{ indicator_id | lower }}_cohort as cohort
            on periods.period = cohort.period
        group by periods.period, periods.period_end
    ),
{%- endfor %}

-- D6: median days from the first Data presa in carico to the first hire; null when the
-- period has no first hire.
d6_rows as (
    select
        'D6' as indicator_id,
        periods.period,
        'totale' as breakdown,
        'totale' as category,
        cast({{ median('cohort.days_to_first_hire') }} as double) as value,
        cast(null as bigint) as numerator,
        cast(null as bigint) as denominator
    from periods
    left join cohort
        on periods.period = cohort.period
    group by periods.period
)

{{ count_members('counted') }}
union all
{{ rate_members('rated') }}
union all
select * from d4_rows
union all
select * from d5_rows
union all
select * from d6_rows
