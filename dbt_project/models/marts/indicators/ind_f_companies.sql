-- F1 Imprese contattate, F2 Imprese disponibili all'inserimento, F3 Imprese della rete che
-- hanno assunto, F4 Imprese che conoscono la L. 193/2000 (%) (definitions: indicators.md).
-- F1's breakdowns and F4 read each company's latest contact in the period.
with periods as (
    select * from {{ ref('int_periods_spined') }}
),

companies as (
    select * from {{ ref('int_company_contacts_by_period') }}
),

f2_wide as (
    select * from companies
    where is_available
),

-- Forme disponibili: the union over the company's Sì contacts in the period (multi-valued).
f2_forms as (
    select
        period,
        company_vat,
        'Tirocinio' as available_form
    from f2_wide
    where offers_tirocinio
    union all
    select
        period,
        company_vat,
        'Assunzione' as available_form
    from f2_wide
    where offers_assunzione
    union all
    select
        period,
        company_vat,
        'Borsa lavoro' as available_form
    from f2_wide
    where offers_borsa_lavoro
),

-- F3: employer codes (P.IVA only) contacted on or before the period's last day with an
-- employment relationship (as D1) starting in the period.
f3_wide as (
    select distinct
        periods.period,
        employment.employer_code
    from periods
    inner join {{ ref('int_employment_relationships_built') }} as employment
        on
            employment.start_date between periods.period_start and periods.period_end
            and not employment.is_internship
            and employment.employer_code_kind = 'piva'
    where exists (
        select 1 from {{ ref('int_company_contacts_classified') }} as contacts
        where
            contacts.company_vat = employment.employer_code
            and contacts.contact_date <= periods.period_end
    )
),

counted as (
    {{ member_rows('companies', 'F1', 'company_vat', [
        ('associazione', 'association'),
        ('ateco_sezione', 'ateco_section'),
    ]) }}
    union all
    {{ member_rows('f2_wide', 'F2', 'company_vat') }}
    union all
    select
        'F2' as indicator_id,
        period,
        'forme_disponibili' as breakdown,
        available_form as category,
        company_vat as member_key,
        cast(null as boolean) as in_numerator
    from f2_forms
    union all
    {{ member_rows('f3_wide', 'F3', 'employer_code') }}
),

rated as (
    {{ member_rows('companies', 'F4', 'company_vat', in_numerator='knows_l193') }}
)

{{ count_members('counted') }}
union all
{{ rate_members('rated') }}
