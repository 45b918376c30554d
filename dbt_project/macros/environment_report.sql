{#- Which of the given environment variables dbt can see (never their values): the
    check that dbt runs without the pseudonymisation key and the SMTP password.
      dbt run-operation environment_report --args '{names: [LAVORO_DATA_DIR, ...]}'
    logs "variabili visibili: A,B" (the names that are set and non-empty). -#}
{% macro environment_report(names) -%}
    {%- set seen = [] -%}
    {%- for name in names -%}
        {%- if env_var(name, '') != '' -%}
            {%- do seen.append(name) -%}
        {%- endif -%}
    {%- endfor -%}
    {{ log('variabili visibili: ' ~ (seen | join(',')), info=True) }}
{%- endmacro %}
