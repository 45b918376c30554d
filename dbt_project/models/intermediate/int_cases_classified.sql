-- One row per case (person + district + Data presa in carico, latest copy), with the
-- groups the indicators break down by.
select
    person_id,
    district,
    case_opened_date,
    case_closed_date,
    citizenship,
    {{ citizenship_group('citizenship') }} as citizenship_group,
    legal_status,
    {{ legal_status_group('legal_status') }} as legal_status_group
from {{ ref('stg_servizi_sociali__cases') }}
