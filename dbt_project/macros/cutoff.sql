{#- The data's cut-off date as a SQL date literal.
    From var('cutoff') (default: env LAVORO_CUTOFF); when blank, the last day of the last
    complete quarter before today: lavoro_debole/periods.py's Quarter.last_complete(today).end,
    as lavoro_debole/settings.py falls back (tests/test_periods.py checks they agree). -#}
{% macro cutoff_value() -%}
    {%- set raw = (var('cutoff', '') or '') | string | trim -%}
    {%- if raw == '' -%}
        {%- set today = modules.datetime.date.today() -%}
        {%- set quarter_start_month = 3 * ((today.month - 1) // 3) + 1 -%}
        {%- set quarter_start = modules.datetime.date(today.year, quarter_start_month, 1) -%}
        {{ return((quarter_start - modules.datetime.timedelta(days=1)).isoformat()) }}
    {%- endif -%}
    {%- if modules.re.match('^[0-9]{4}-[0-9]{2}-[0-9]{2}$', raw) is none -%}
        {{ exceptions.raise_compiler_error(
            "var 'cutoff' / LAVORO_CUTOFF must be a date written as YYYY-MM-DD, e.g. 2025-12-31") }}
    {%- endif -%}
    {{ return(raw) }}
{%- endmacro %}

{% macro cutoff_date() -%}
    cast('{{ cutoff_value() }}' as date)
{%- endmacro %}
