-- Every calendar quarter and year from the first data to the data's cut-off date.
-- "First data" is the earliest date on which any feed records an event: a case opened,
-- a CO event, an internship start, a course start or an enrolment, a cooperative hire, a
-- desk contact, a company contact (every `first_dates` of var('feeds'), dbt_project.yml).
-- Only complete periods are listed (last day on or before the cut-off date); with no data
-- at all, the spine starts at the cut-off's quarter.
with recursive first_dates as (
    {%- for model, column in feed_first_dates() %}
        select min({{ column }}) as first_date from {{ ref(model) }}
        {%- if not loop.last %}
            union all
        {%- endif %}
    {%- endfor %}
),

bounds as (
    select
        {{ cutoff_date() }} as cutoff_date,
        least(
            coalesce(min(first_date), {{ cutoff_date() }}),
            {{ cutoff_date() }}
        ) as first_date
    from first_dates
),

quarters (period_start) as (
    select
        make_date(
            cast(extract(year from first_date) as integer),
            cast(3 * floor((extract(month from first_date) - 1) / 3) + 1 as integer),
            1
        )
    from bounds
    union all
    select cast({{ dbt.dateadd('month', 3, 'quarters.period_start') }} as date)
    from quarters
    where quarters.period_start <= (select bounds.cutoff_date from bounds)
),

all_periods as (
    select
        'quarter' as period_type,
        cast(extract(year from period_start) as integer) as period_year,
        cast(floor((extract(month from period_start) - 1) / 3) + 1 as integer) as period_quarter,
        period_start,
        cast({{ dbt.dateadd('day', -1, dbt.dateadd('month', 3, 'period_start')) }} as date)
            as period_end
    from quarters
    union all
    select
        'year' as period_type,
        cast(extract(year from period_start) as integer) as period_year,
        null as period_quarter,
        period_start,
        make_date(cast(extract(year from period_start) as integer), 12, 31) as period_end
    from quarters
    where extract(month from period_start) = 1
)

select
    case
        when period_type = 'quarter'
            then cast(period_year as varchar) || '-Q' || cast(period_quarter as varchar)
        else cast(period_year as varchar)
    end as period,
    period_type,
    period_year,
    period_quarter,
    period_start,
    period_end
from all_periods
where period_end <= (select bounds.cutoff_date from bounds)
