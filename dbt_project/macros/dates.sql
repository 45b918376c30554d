{#- Date helpers kept portable: DuckDB and PostgreSQL both accept these forms. -#}

{#- d plus n days, as a date. -#}
{% macro add_days(d, n) -%}
    cast({{ dbt.dateadd('day', n, d) }} as date)
{%- endmacro %}

{#- whole days from date a to date b (b - a). -#}
{% macro days_between(a, b) -%}
    {{ dbt.datediff(a, b, 'day') }}
{%- endmacro %}

{#- completed years from birth to ref (both dates). -#}
{% macro age_years(birth, ref) -%}
    (
        extract(year from {{ ref }}) - extract(year from {{ birth }})
        - case
            when extract(month from {{ ref }}) * 100 + extract(day from {{ ref }})
                < extract(month from {{ birth }}) * 100 + extract(day from {{ birth }})
                then 1
            else 0
        end
    )
{%- endmacro %}

{#- A date from year, month, day that never fails: 29 February of a common year
    (possible for 1900 from a CF year '00') becomes 1 March. -#}
{% macro safe_make_date(y, m, d) -%}
    {{ add_days('make_date(cast(' ~ y ~ ' as integer), cast(' ~ m ~ ' as integer), 1)',
                'cast(' ~ d ~ ' as integer) - 1') }}
{%- endmacro %}

{#- Birth date decoded from the CF fields: the two-digit year is 20yy when that makes the
    person at least 14 on ref_date, else 19yy (indicators.md, "Birth date, sex"). -#}
{% macro resolve_birth_date(yy, mm, dd, ref_date) -%}
    case
        when {{ age_years(safe_make_date('2000 + ' ~ yy, mm, dd), ref_date) }} >= 14
            then {{ safe_make_date('2000 + ' ~ yy, mm, dd) }}
        else {{ safe_make_date('1900 + ' ~ yy, mm, dd) }}
    end
{%- endmacro %}

{#- Median; the mean of the two middle values for an even count. -#}
{% macro median(expr) -%}
    {{ return(adapter.dispatch('median', 'lavoro_debole')(expr)) }}
{%- endmacro %}

{% macro default__median(expr) -%}
    percentile_cont(0.5) within group (order by {{ expr }})
{%- endmacro %}

{% macro duckdb__median(expr) -%}
    median({{ expr }})
{%- endmacro %}
