-- E1 Inserimenti in cooperativa sociale, E2 Lavoratori svantaggiati in cooperativa a fine
-- periodo (definitions: indicators.md).
with periods as (
    select * from {{ ref('int_periods_spined') }}
),

placements as (
    select
        *,
        person_id || '|' || cooperative || '|' || cast(hire_date as varchar) as placement_key
    from {{ ref('int_cooperative_placements_classified') }}
),

e1_wide as (
    select
        periods.period,
        placements.placement_key,
        placements.contract_type,
        placements.job
    from periods
    inner join placements
        on placements.hire_date between periods.period_start and periods.period_end
),

e2_wide as (
    select
        periods.period,
        placements.person_id
    from periods
    inner join placements
        on
            placements.hire_date <= periods.period_end
            and (placements.end_date is null or placements.end_date >= periods.period_end)
            and placements.is_employment
            and placements.disadvantaged
),

counted as (
    {{ member_rows('e1_wide', 'E1', 'placement_key', [
        ('tipo_contratto_coop', 'contract_type'),
        ('mansione', 'job'),
    ]) }}
    union all
    {{ member_rows('e2_wide', 'E2', 'person_id') }}
)

{{ count_members('counted') }}
