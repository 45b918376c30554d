{#- Category spellings of indicators.md, in one place. -#}

{#- Open vocabulary: trimmed, first letter upper case, the rest as written; blank = null. -#}
{% macro normalise_label(expr) -%}
    nullif(upper(substr(trim({{ expr }}), 1, 1)) || substr(trim({{ expr }}), 2), '')
{%- endmacro %}

{% macro age_band(age) -%}
    case
        when {{ age }} < 18 then '<18'
        when {{ age }} <= 24 then '18-24'
        when {{ age }} <= 34 then '25-34'
        when {{ age }} <= 44 then '35-44'
        when {{ age }} <= 54 then '45-54'
        else '55+'
    end
{%- endmacro %}

{% macro citizenship_group(expr) -%}
    case
        when nullif(trim({{ expr }}), '') is null then 'non indicata'
        when upper(trim({{ expr }})) in ('ITALIANA', 'ITALIA') then 'italiana'
        else 'straniera'
    end
{%- endmacro %}

{% macro legal_status_group(expr) -%}
    case
        when lower(trim({{ expr }})) in ('detenuto', 'semilibero') then 'in carcere'
        when lower(trim({{ expr }})) in (
            'affidamento in prova ai servizi sociali', 'affidato', 'detenzione domiciliare',
            'libertà vigilata', 'liberta vigilata', 'messa alla prova'
        ) then 'misura alternativa'
        when lower(trim({{ expr }})) in ('ex detenuto', 'dimesso') then 'ex detenuto'
        else 'non indicata'
    end
{%- endmacro %}

{#- Contract group from the contract code's family (its first four characters). -#}
{% macro contract_group(code) -%}
    case substr({{ code }}, 1, 4)
        when 'A.01' then 'tempo indeterminato'
        when 'A.02' then 'tempo determinato'
        when 'A.03' then 'apprendistato'
        else 'altro'
    end
{%- endmacro %}

{#- P.IVA as compared across feeds: spaces removed, upper case, an IT prefix dropped. -#}
{% macro normalise_vat(expr) -%}
    case
        when upper(replace(trim({{ expr }}), ' ', '')) like 'IT%'
            then substr(upper(replace(trim({{ expr }}), ' ', '')), 3)
        else nullif(upper(replace(trim({{ expr }}), ' ', '')), '')
    end
{%- endmacro %}

{#- Key of an employment relationship: worker + employer code + Data Inizio Rapporto. -#}
{% macro relationship_id(person_id, employer_code, start_date) -%}
    {{ person_id }} || '|' || {{ employer_code }} || '|' || cast({{ start_date }} as varchar)
{%- endmacro %}

{#- Order of CO events on one day: a Cessazione is the latest, an Assunzione the earliest. -#}
{% macro co_event_order(event_type) -%}
    case {{ event_type }}
        when 'Cessazione' then 4
        when 'Trasformazione' then 3
        when 'Proroga' then 2
        else 1
    end
{%- endmacro %}
