-- Cooperative placements (CF + cooperative + Data assunzione, latest copy); employment
-- means a Tipo contratto other than Tirocinio and Borsa lavoro (E2).
select
    person_id,
    cooperative,
    hire_date,
    end_date,
    contract_type,
    job,
    coalesce(disadvantaged, false) as disadvantaged,
    contract_type not in ('Tirocinio', 'Borsa lavoro') as is_employment
from {{ ref('stg_cooperative__placements') }}
