select
    cast(file_sha256 as varchar) as file_sha256,
    cast(feed as varchar) as feed,
    coalesce(nullif(trim(sender), ''), 'non indicato') as sender,
    cast(status as varchar) as status,
    cast(rows_data as integer) as rows_data,
    cast(rows_loaded as integer) as rows_loaded,
    cast(rows_rejected as integer) as rows_rejected,
    cast(reference_date as date) as reference_date,
    cast(coverage_start as date) as coverage_start,
    cast(coverage_end as date) as coverage_end,
    cast(received_seq as integer) as received_seq,
    cast(received_at as date) as received_date,
    -- When the file reached the inbox (its modification time as saved there): timeliness
    -- (Q1) is judged on it; the ingest time stands in for logs written before it existed.
    cast(coalesce(file_modified_at, received_at) as date) as arrived_date
from {{ source('ops', 'ingest_files') }}
