-- Every indicator (A1…F4, Q1…Q3) for every period, breakdown and category, before
-- disclosure control. A cell in which nothing falls is 0 (a count), or 0 out of 0 (a rate,
-- whose value is then null); D6 and the not-yet-observable D4/D5 keep the nulls their
-- family model gives them. Percentages are 0-100 at full precision, with the 95% Wilson
-- interval; rounding is the export's job.
with family_rows as (
    {%- for family in ['ind_a_reach', 'ind_b_training', 'ind_c_internships',
                       'ind_d_employment', 'ind_e_cooperatives', 'ind_f_companies',
                       'ind_q_quality'] %}
        select * from {{ ref(family) }}
        {%- if not loop.last %}
            union all
        {%- endif %}
    {%- endfor %}
),

listed_categories as (
    select
        indicator_id,
        breakdown,
        category,
        sort_order
    from {{ ref('indicator_categories') }}
),

-- Values met in the data that the seed does not list ("plus any other value met").
met_categories as (
    select distinct
        family_rows.indicator_id,
        family_rows.breakdown,
        family_rows.category,
        1000 as sort_order
    from family_rows
    left join listed_categories
        on
            family_rows.indicator_id = listed_categories.indicator_id
            and family_rows.breakdown = listed_categories.breakdown
            and family_rows.category = listed_categories.category
    where listed_categories.indicator_id is null
),

categories as (
    select * from listed_categories
    union all
    select * from met_categories
),

scaffold as (
    select
        indicators.indicator_id,
        indicators.name_it as indicator_name,
        indicators.unit,
        periods.period,
        periods.period_type,
        periods.period_start,
        periods.period_end,
        categories.breakdown,
        categories.category,
        categories.sort_order as category_order
    from {{ ref('indicators') }} as indicators
    inner join categories
        on indicators.indicator_id = categories.indicator_id
    cross join {{ ref('int_periods_spined') }} as periods
),

-- How many persons make each period's D6 median: disclosure control hides a median of
-- fewer than k persons, and D6's numerator and denominator stay null as indicators.md says.
median_bases as (
    select
        period as median_period,
        count(days_to_first_hire) as median_persons
    from {{ ref('int_first_hire_cohorts_by_period') }}
    group by period
),

filled as (
    select
        scaffold.*,
        family_rows.value as row_value,
        case
            when family_rows.indicator_id is null then 0 else family_rows.numerator
        end as numerator,
        case
            when family_rows.indicator_id is null then 0 else family_rows.denominator
        end as denominator,
        case
            when scaffold.indicator_id = 'D6' then coalesce(median_bases.median_persons, 0)
        end as median_persons
    from scaffold
    left join median_bases
        on scaffold.period = median_bases.median_period
    left join family_rows
        on
            scaffold.indicator_id = family_rows.indicator_id
            and scaffold.period = family_rows.period
            and scaffold.breakdown = family_rows.breakdown
            and scaffold.category = family_rows.category
)

select
    indicator_id,
    indicator_name,
    period,
    period_type,
    period_start,
    period_end,
    breakdown,
    category,
    category_order,
    unit,
    case
        when unit = 'count' then coalesce(row_value, 0)
        when unit = 'percent' and denominator > 0 then 100.0 * numerator / denominator
        when unit = 'days' then row_value
    end as value,
    case when unit = 'percent' then numerator end as numerator,
    case when unit = 'percent' then denominator end as denominator,
    case
        when
            unit = 'percent' and denominator > 0
            then greatest(0.0, {{ wilson_low('numerator', 'denominator') }})
    end as ci_low,
    case
        when
            unit = 'percent' and denominator > 0
            then least(100.0, {{ wilson_high('numerator', 'denominator') }})
    end as ci_high,
    median_persons
from filled
