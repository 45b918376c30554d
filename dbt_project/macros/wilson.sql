{#- 95% Wilson score interval of numerator/denominator, in percent (0-100).
    Null when the denominator is 0 or null. -#}
{% macro wilson_bound(numerator, denominator, sign, z=1.96) -%}
    case
        when coalesce({{ denominator }}, 0) > 0 then 100.0 * (
            (
                (1.0 * {{ numerator }} / {{ denominator }})
                + {{ z }} * {{ z }} / (2.0 * {{ denominator }})
                {{ sign }} {{ z }} * sqrt(
                    (1.0 * {{ numerator }} / {{ denominator }})
                    * (1 - 1.0 * {{ numerator }} / {{ denominator }}) / {{ denominator }}
                    + {{ z }} * {{ z }} / (4.0 * {{ denominator }} * {{ denominator }})
                )
            ) / (1 + {{ z }} * {{ z }} / (1.0 * {{ denominator }}))
        )
    end
{%- endmacro %}

{% macro wilson_low(numerator, denominator, z=1.96) -%}
    {{ wilson_bound(numerator, denominator, '-', z) }}
{%- endmacro %}

{% macro wilson_high(numerator, denominator, z=1.96) -%}
    {{ wilson_bound(numerator, denominator, '+', z) }}
{%- endmacro %}
