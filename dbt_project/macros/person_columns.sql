{#- The pseudonymised person columns every CF-bearing raw table carries. -#}
{% macro person_columns() -%}
    cast(person_id as varchar) as person_id,
    cast(person_sex as varchar) as person_sex,
    cast(person_birth_yy as integer) as person_birth_yy,
    cast(person_birth_month as integer) as person_birth_month,
    cast(person_birth_day as integer) as person_birth_day,
    cast(person_born_abroad as boolean) as person_born_abroad
{%- endmacro %}

{#- Lineage of the winning copy. -#}
{% macro lineage_columns() -%}
    file_sha256,
    cast(reference_date as date) as reference_date,
    cast(received_seq as integer) as received_seq,
    sender
{%- endmacro %}
