-- B1 Persone in formazione, B2 Percorsi formativi conclusi con esito positivo (%),
-- B3 Qualifiche conseguite (definitions: indicators.md). Only enrolments in courses that
-- a Corsi sheet defines count (int_trainings_dated).
with periods as (
    select * from {{ ref('int_periods_spined') }}
),

trainings as (
    select * from {{ ref('int_trainings_dated') }}
),

-- B1: an enrolment made on or before the period's last day (a blank Data iscrizione is
-- read as the course's Data inizio), in a course whose dates overlap the period, not
-- withdrawn before the period began.
b1_wide as (
    select
        periods.period,
        trainings.person_id,
        trainings.professional_area,
        trainings.site
    from periods
    inner join trainings
        on
            coalesce(trainings.enrolment_date, trainings.course_start_date) <= periods.period_end
            and trainings.course_start_date <= periods.period_end
            and trainings.course_end_date >= periods.period_start
            and (
                trainings.withdrawal_date is null
                or trainings.withdrawal_date >= periods.period_start
            )
),

-- B2 / B3: enrolments in courses whose Data fine falls in the period.
ended_wide as (
    select
        periods.period,
        trainings.person_id || '|' || trainings.course_code as enrolment_key,
        trainings.course_type,
        trainings.outcome,
        trainings.outcome in ('Qualificato', 'Attestato di frequenza') as is_positive
    from periods
    inner join trainings
        on trainings.course_end_date between periods.period_start and periods.period_end
),

b2_wide as (
    select * from ended_wide
    where outcome <> 'In corso'
),

b3_wide as (
    select * from ended_wide
    where outcome = 'Qualificato' and course_type = 'Qualifica IeFP'
),

counted as (
    {{ member_rows('b1_wide', 'B1', 'person_id', [
        ('area', 'professional_area'),
        ('sede', 'site'),
    ]) }}
    union all
    {{ member_rows('b3_wide', 'B3', 'enrolment_key') }}
),

rated as (
    {{ member_rows('b2_wide', 'B2', 'enrolment_key', [('tipo', 'course_type')],
        in_numerator='is_positive') }}
)

{{ count_members('counted') }}
union all
{{ rate_members('rated') }}
