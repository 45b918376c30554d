{#- The memory limit and spill directory of dbt's own DuckDB session, logged as
    "duckdb: <memory_limit>|<temp_directory>": the check that dbt runs bounded too.
      dbt run-operation duckdb_settings_report -#}
{% macro duckdb_settings_report() -%}
    {%- set row = run_query(
        "select current_setting('memory_limit'), current_setting('temp_directory')"
    ).rows[0] -%}
    {{ log('duckdb: ' ~ row[0] ~ '|' ~ row[1], info=True) }}
{%- endmacro %}
