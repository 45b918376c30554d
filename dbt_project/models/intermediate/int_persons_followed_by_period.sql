-- Persons in the programme on at least one day of the period (the persons of A1): a case
-- opened on or before the period's last day and not closed before its first day.
select distinct
    periods.period,
    periods.period_end,
    cases.person_id
from {{ ref('int_periods_spined') }} as periods
inner join {{ ref('int_cases_classified') }} as cases
    on
        cases.case_opened_date <= periods.period_end
        and (cases.case_closed_date is null or cases.case_closed_date >= periods.period_start)
