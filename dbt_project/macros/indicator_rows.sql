{#- Building blocks of the indicator families (models/marts/indicators/).

    A family first lists its "members": one row per unit counted (a person, a contact, a
    relationship…) per period, with its category in each breakdown. member_rows() turns
    such a relation into long rows (indicator_id, period, breakdown, category, member_key,
    in_numerator): one row for the total and one per breakdown. count_members() and
    rate_members() then count distinct members per cell. Cells where no member falls are
    added with 0 by indicator_values. -#}

{% macro member_rows(relation, indicator_id, member_key, breakdowns=[], in_numerator='null') -%}
    select
        '{{ indicator_id }}' as indicator_id,
        period,
        'totale' as breakdown,
        'totale' as category,
        cast({{ member_key }} as varchar) as member_key,
        cast({{ in_numerator }} as boolean) as in_numerator
    from {{ relation }}
    {%- for breakdown, category in breakdowns %}
    union all
    select
        '{{ indicator_id }}' as indicator_id,
        period,
        '{{ breakdown }}' as breakdown,
        coalesce(cast({{ category }} as varchar), 'non indicata') as category,
        cast({{ member_key }} as varchar) as member_key,
        cast({{ in_numerator }} as boolean) as in_numerator
    from {{ relation }}
    {%- endfor %}
{%- endmacro %}

{% macro count_members(relation) -%}
    select
        indicator_id,
        period,
        breakdown,
        category,
        cast(count(distinct member_key) as double) as value,
        cast(null as bigint) as numerator,
        cast(null as bigint) as denominator
    from {{ relation }}
    group by indicator_id, period, breakdown, category
{%- endmacro %}

{% macro rate_members(relation) -%}
    select
        indicator_id,
        period,
        breakdown,
        category,
        cast(null as double) as value,
        count(distinct case when in_numerator then member_key end) as numerator,
        count(distinct member_key) as denominator
    from {{ relation }}
    group by indicator_id, period, breakdown, category
{%- endmacro %}

{% macro summed_rows(relation, indicator_id, breakdown, category, value) -%}
    {#- For a relation already at one row per (period, category): each row is its
        category's cell, and the total sums them. -#}
    select
        '{{ indicator_id }}' as indicator_id,
        period,
        'totale' as breakdown,
        'totale' as category,
        cast(sum({{ value }}) as double) as value,
        cast(null as bigint) as numerator,
        cast(null as bigint) as denominator
    from {{ relation }}
    group by period
    union all
    select
        '{{ indicator_id }}' as indicator_id,
        period,
        '{{ breakdown }}' as breakdown,
        {{ category }} as category,
        cast({{ value }} as double) as value,
        cast(null as bigint) as numerator,
        cast(null as bigint) as denominator
    from {{ relation }}
{%- endmacro %}
