-- Desk contacts (by ID contatto, latest copy), anonymous ones included; a referral (A4)
-- is a contact whose Inviato a is neither blank nor Nessuno (any case).
select
    contact_id,
    contact_date,
    person_id,
    coalesce(user_type, 'non indicata') as user_type,
    coalesce(main_request, 'non indicata') as main_request,
    referred_to,
    coalesce(lower(referred_to) <> 'nessuno', false) as is_referral
from {{ ref('stg_sportello__contacts') }}
