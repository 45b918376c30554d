-- Every breakdown where one unit falls in exactly one category adds up to its total
-- (counts by value, rates by numerator and denominator). Returns the cells that do not.
with additive (indicator_id, breakdown) as (
    values
    ('A1', 'sesso'), ('A1', 'fascia_eta'), ('A1', 'cittadinanza'),
    ('A1', 'posizione_giuridica'), ('A1', 'distretto'),
    ('A2', 'sesso'), ('A2', 'posizione_giuridica'), ('A2', 'distretto'),
    ('A3', 'tipo_utente'), ('A3', 'richiesta'), ('A4', 'inviato_a'),
    ('B2', 'tipo'), ('C1', 'tipo'), ('C2', 'tipo'),
    ('D1', 'tipo_contratto'), ('D1', 'tipo_datore'), ('D1', 'agevolazione_193'),
    ('D2', 'sesso'), ('D2', 'posizione_giuridica'),
    ('D3', 'sesso'), ('D3', 'posizione_giuridica'),
    ('E1', 'tipo_contratto_coop'), ('E1', 'mansione'),
    ('F1', 'associazione'), ('F1', 'ateco_sezione'),
    ('Q1', 'fonte_mittente'), ('Q2', 'fonte')
),

sums as (
    select
        cells.indicator_id,
        cells.period,
        cells.breakdown,
        sum(coalesce(cells.value, 0)) as value,
        sum(coalesce(cells.numerator, 0)) as numerator,
        sum(coalesce(cells.denominator, 0)) as denominator
    from {{ ref('indicator_values') }} as cells
    inner join additive
        on cells.indicator_id = additive.indicator_id and cells.breakdown = additive.breakdown
    where cells.unit = 'count' or cells.unit = 'percent'
    group by cells.indicator_id, cells.period, cells.breakdown
)

select
    sums.indicator_id,
    sums.period,
    sums.breakdown
from sums
inner join {{ ref('indicator_values') }} as totals
    on
        sums.indicator_id = totals.indicator_id
        and sums.period = totals.period
        and totals.breakdown = 'totale'
where
    (totals.unit = 'count' and sums.value <> totals.value)
    or (
        totals.unit = 'percent'
        and (
            sums.numerator <> coalesce(totals.numerator, 0)
            or sums.denominator <> coalesce(totals.denominator, 0)
        )
    )
