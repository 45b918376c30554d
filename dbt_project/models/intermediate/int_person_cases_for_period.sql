-- "The person's case for a period" (indicators.md): of the person's cases opened on or
-- before the period's last day, the one opened last; a tie goes to the open case, then to
-- the later Data chiusura, then (a last deterministic tie-break) to the district name.
with candidates as (
    select
        periods.period,
        cases.person_id,
        cases.district,
        cases.case_opened_date,
        cases.case_closed_date,
        cases.citizenship_group,
        cases.legal_status_group,
        row_number() over (
            partition by cases.person_id, periods.period
            order by
                cases.case_opened_date desc,
                case when cases.case_closed_date is null then 0 else 1 end,
                cases.case_closed_date desc,
                cases.district asc
        ) as case_rank
    from {{ ref('int_periods_spined') }} as periods
    inner join {{ ref('int_cases_classified') }} as cases
        on cases.case_opened_date <= periods.period_end
)

select
    period,
    person_id,
    district,
    case_opened_date,
    case_closed_date,
    citizenship_group,
    legal_status_group
from candidates
where case_rank = 1
