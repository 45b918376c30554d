-- Internships (CF + P.IVA azienda + Data avvio, latest copy) from provincia_tirocini only,
-- with whether they ended in a hire (C2): Esito Assunto, or an employment relationship of
-- the same person with the same employer (employer code = P.IVA azienda) starting 1 to 90
-- days after Data fine effettiva.
with internships as (
    select * from {{ ref('stg_provincia_tirocini__internships') }}
),

hires_after as (
    select distinct
        internships.person_id,
        internships.host_vat,
        internships.start_date
    from internships
    inner join {{ ref('int_employment_relationships_built') }} as relationships
        on
            internships.person_id = relationships.person_id
            and internships.host_vat = relationships.employer_code
            and not relationships.is_internship
            and relationships.start_date >= {{ add_days('internships.actual_end_date', 1) }}
            and relationships.start_date <= {{ add_days('internships.actual_end_date', 90) }}
)

select
    internships.person_id,
    internships.host_vat,
    internships.start_date,
    internships.internship_type,
    internships.actual_end_date,
    internships.outcome,
    hires_after.person_id is not null as hired_within_90_days,
    (internships.outcome = 'Assunto' or hires_after.person_id is not null) as ended_in_hire
from internships
left join hires_after
    on
        internships.person_id = hires_after.person_id
        and internships.host_vat = hires_after.host_vat
        and internships.start_date = hires_after.start_date
