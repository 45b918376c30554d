-- Company contacts (P.IVA + Data contatto, latest copy) with the ATECO 2007 section letter
-- of the company's code (from its first two digits).
select
    contacts.company_vat,
    contacts.contact_date,
    coalesce(contacts.association, 'non indicata') as association,
    contacts.ateco_code,
    coalesce(sections.section, 'non indicata') as ateco_section,
    contacts.availability,
    contacts.available_forms,
    contacts.knows_l193
from {{ ref('stg_imprese__contacts') }} as contacts
left join {{ ref('ateco_sections') }} as sections
    on substr(trim(contacts.ateco_code), 1, 2) = sections.division
