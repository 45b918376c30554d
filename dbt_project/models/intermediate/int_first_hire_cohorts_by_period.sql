-- The cohort of D4, D5 and D6: for each period, the persons whose first hire falls in it.
-- Defined once here so that the indicators and the size of D6's median (used by
-- disclosure control) read the same persons.
select
    periods.period,
    periods.period_end,
    first_hires.person_id,
    first_hires.first_hire_date,
    first_hires.days_to_first_hire
from {{ ref('int_periods_spined') }} as periods
inner join {{ ref('int_first_hires_found') }} as first_hires
    on first_hires.first_hire_date between periods.period_start and periods.period_end
