-- One row per company and period with a contact in the period: its latest contact in the
-- period (association, ATECO section, Conosce L.193/2000), whether any contact in the
-- period said Disponibilità Sì, and the union of Forme disponibili over those Sì contacts.
with contacts_in_period as (
    select
        periods.period,
        contacts.*,
        row_number() over (
            partition by periods.period, contacts.company_vat
            order by contacts.contact_date desc
        ) as latest_rank
    from {{ ref('int_periods_spined') }} as periods
    inner join {{ ref('int_company_contacts_classified') }} as contacts
        on contacts.contact_date between periods.period_start and periods.period_end
),

availability as (
    select
        period,
        company_vat,
        max(case when availability = 'Sì' then 1 else 0 end) = 1 as is_available,
        max(
            case
                when availability = 'Sì' and ',' || available_forms || ',' like '%,Tirocinio,%' then 1
                else 0
            end
        ) = 1 as offers_tirocinio,
        max(
            case
                when availability = 'Sì' and ',' || available_forms || ',' like '%,Assunzione,%' then 1
                else 0
            end
        ) = 1 as offers_assunzione,
        max(
            case
                when availability = 'Sì' and ',' || available_forms || ',' like '%,Borsa lavoro,%' then 1
                else 0
            end
        ) = 1 as offers_borsa_lavoro
    from contacts_in_period
    group by period, company_vat
)

select
    latest.period,
    latest.company_vat,
    latest.contact_date as latest_contact_date,
    latest.association,
    latest.ateco_section,
    coalesce(latest.knows_l193, false) as knows_l193,
    availability.is_available,
    availability.offers_tirocinio,
    availability.offers_assunzione,
    availability.offers_borsa_lavoro
from contacts_in_period as latest
inner join availability
    on latest.period = availability.period and latest.company_vat = availability.company_vat
where latest.latest_rank = 1
