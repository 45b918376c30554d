{#- The feeds as var('feeds') in dbt_project.yml lists them, one line per feed: the
    unions loop over these instead of naming the feeds. -#}

{#- (feed, staging model) of every feed whose rows carry a person, in the var's order. -#}
{% macro person_feeds() -%}
    {%- set found = [] -%}
    {%- for feed, spec in var('feeds').items() if spec.get('persons') -%}
        {%- do found.append((feed, spec['persons'])) -%}
    {%- endfor -%}
    {{ return(found) }}
{%- endmacro %}

{#- The feeds of persons whose presence links a person of A1 (Q3). -#}
{% macro linking_feeds() -%}
    {%- set found = [] -%}
    {%- for feed, model in person_feeds() if var('feeds')[feed].get('links') -%}
        {%- do found.append(feed) -%}
    {%- endfor -%}
    {{ return(found) }}
{%- endmacro %}

{#- (staging model, date column) of every event date that can start the period spine. -#}
{% macro feed_first_dates() -%}
    {%- set found = [] -%}
    {%- for feed, spec in var('feeds').items() -%}
        {%- for model, column in spec.get('first_dates', {}).items() -%}
            {%- do found.append((model, column)) -%}
        {%- endfor -%}
    {%- endfor -%}
    {{ return(found) }}
{%- endmacro %}
