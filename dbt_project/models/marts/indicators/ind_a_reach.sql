-- A1 Persone seguite, A2 Nuove prese in carico, A3 Contatti allo sportello,
-- A4 Invii ad altri servizi (definitions: indicators.md).
with periods as (
    select * from {{ ref('int_periods_spined') }}
),

-- A1: persons in the programme on at least one day of the period.
a1_members_wide as (
    select
        a1_persons.period,
        a1_persons.person_id,
        persons.sex,
        {{ age_band(age_years(
            resolve_birth_date('persons.birth_yy', 'persons.birth_month', 'persons.birth_day',
                'a1_persons.period_end'),
            'a1_persons.period_end')) }} as age_band,
        period_cases.citizenship_group,
        period_cases.legal_status_group,
        period_cases.district
    from {{ ref('int_persons_followed_by_period') }} as a1_persons
    inner join {{ ref('int_persons_resolved') }} as persons
        on a1_persons.person_id = persons.person_id
    left join {{ ref('int_person_cases_for_period') }} as period_cases
        on
            a1_persons.person_id = period_cases.person_id
            and a1_persons.period = period_cases.period
),

-- A2: persons whose first Data presa in carico (over all their cases) is in the period.
a2_members_wide as (
    select
        periods.period,
        persons.person_id,
        persons.sex,
        period_cases.legal_status_group,
        period_cases.district
    from periods
    inner join {{ ref('int_persons_resolved') }} as persons
        on persons.first_case_date between periods.period_start and periods.period_end
    left join {{ ref('int_person_cases_for_period') }} as period_cases
        on
            persons.person_id = period_cases.person_id
            and periods.period = period_cases.period
),

-- A3 / A4: desk contacts dated in the period, anonymous ones included.
contacts_wide as (
    select
        periods.period,
        contacts.contact_id,
        contacts.user_type,
        contacts.main_request,
        contacts.referred_to,
        contacts.is_referral
    from periods
    inner join {{ ref('int_desk_contacts_classified') }} as contacts
        on contacts.contact_date between periods.period_start and periods.period_end
),

referrals_wide as (
    select * from contacts_wide
    where is_referral
),

members as (
    {{ member_rows('a1_members_wide', 'A1', 'person_id', [
        ('sesso', 'sex'),
        ('fascia_eta', 'age_band'),
        ('cittadinanza', 'citizenship_group'),
        ('posizione_giuridica', 'legal_status_group'),
        ('distretto', 'district'),
    ]) }}
    union all
    {{ member_rows('a2_members_wide', 'A2', 'person_id', [
        ('sesso', 'sex'),
        ('posizione_giuridica', 'legal_status_group'),
        ('distretto', 'district'),
    ]) }}
    union all
    {{ member_rows('contacts_wide', 'A3', 'contact_id', [
        ('tipo_utente', 'user_type'),
        ('richiesta', 'main_request'),
    ]) }}
    union all
    {{ member_rows('referrals_wide', 'A4', 'contact_id', [('inviato_a', 'referred_to')]) }}
)

{{ count_members('members') }}
