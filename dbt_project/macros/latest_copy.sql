{#- "Which copy wins" (indicators.md): rank the copies of one record, 1 = the winner.
    Latest file reference date first (a copy whose file states no reference date loses
    to any dated copy), then the file received last, then, as a last deterministic
    tie-break inside one file, the highest sheet name and row number. -#}
{% macro latest_copy_rank(keys) -%}
    row_number() over (
        partition by {{ keys | join(', ') }}
        order by
            reference_date desc nulls last,
            received_seq desc nulls last,
            sheet desc nulls last,
            row_number desc
    )
{%- endmacro %}
