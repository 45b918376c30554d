-- The raw and ops tables as docs/raw-tables.md describes them (the ingest's contract),
-- created empty for the dbt tests. Lineage and person columns are spelled out per table.
create schema if not exists raw;
create schema if not exists ops;

create table raw.provincia_co (
    file_sha256 varchar, file_name varchar, sheet varchar, row_number integer,
    reference_date date, received_seq integer, sender varchar,
    communication_id varchar,
    person_id varchar, person_sex varchar, person_birth_yy smallint,
    person_birth_month smallint, person_birth_day smallint, person_born_abroad boolean,
    event_type varchar, event_date date, relationship_start_date date, planned_end_date date,
    contract_type varchar, contract_code varchar, employer_code varchar,
    employer_code_kind varchar, ateco_code varchar, work_municipality varchar,
    working_time varchar, weekly_hours double, occupation varchar, incentive varchar,
    termination_reason varchar
);

create table raw.provincia_tirocini (
    file_sha256 varchar, file_name varchar, sheet varchar, row_number integer,
    reference_date date, received_seq integer, sender varchar,
    person_id varchar, person_sex varchar, person_birth_yy smallint,
    person_birth_month smallint, person_birth_day smallint, person_born_abroad boolean,
    internship_type varchar, promoter varchar, host_vat varchar, start_date date,
    planned_end_date date, actual_end_date date, outcome varchar,
    monthly_allowance_eur double
);

create table raw.servizi_sociali (
    file_sha256 varchar, file_name varchar, sheet varchar, row_number integer,
    reference_date date, received_seq integer, sender varchar,
    person_id varchar, person_sex varchar, person_birth_yy smallint,
    person_birth_month smallint, person_birth_day smallint, person_born_abroad boolean,
    district varchar, citizenship varchar, legal_status varchar, institution varchar,
    sentence_end_date date, case_opened_date date, case_closed_date date,
    closure_reason varchar, needs varchar
);

create table raw.cfp_corsi (
    file_sha256 varchar, file_name varchar, sheet varchar, row_number integer,
    reference_date date, received_seq integer, sender varchar,
    course_code varchar, title varchar, professional_area varchar, site varchar,
    course_type varchar, start_date date, end_date date, planned_hours double,
    funding varchar
);

create table raw.cfp_iscritti (
    file_sha256 varchar, file_name varchar, sheet varchar, row_number integer,
    reference_date date, received_seq integer, sender varchar,
    course_code varchar,
    person_id varchar, person_sex varchar, person_birth_yy smallint,
    person_birth_month smallint, person_birth_day smallint, person_born_abroad boolean,
    enrolment_date date, attended_hours double, outcome varchar, withdrawal_date date
);

create table raw.cooperative (
    file_sha256 varchar, file_name varchar, sheet varchar, row_number integer,
    reference_date date, received_seq integer, sender varchar,
    cooperative varchar,
    person_id varchar, person_sex varchar, person_birth_yy smallint,
    person_birth_month smallint, person_birth_day smallint, person_born_abroad boolean,
    hire_date date, end_date date, contract_type varchar, weekly_hours double, job varchar,
    disadvantaged boolean, gross_monthly_pay_eur double
);

create table raw.sportello (
    file_sha256 varchar, file_name varchar, sheet varchar, row_number integer,
    reference_date date, received_seq integer, sender varchar,
    contact_id varchar, contact_date date, contact_time varchar, channel varchar,
    user_type varchar,
    person_id varchar, person_sex varchar, person_birth_yy smallint,
    person_birth_month smallint, person_birth_day smallint, person_born_abroad boolean,
    birth_year smallint, sex varchar, nationality varchar, main_request varchar,
    referred_to varchar
);

create table raw.imprese (
    file_sha256 varchar, file_name varchar, sheet varchar, row_number integer,
    reference_date date, received_seq integer, sender varchar,
    company_vat varchar, association varchar, ateco_code varchar, municipality varchar,
    employees_band varchar, contact_date date, channel varchar, availability varchar,
    available_forms varchar, knows_l193 boolean
);

create table raw.reference_cooperative_sociali (
    ragione_sociale varchar, partita_iva varchar
);

create table raw.reference_expected_senders (
    flusso varchar, mittente varchar, cadenza varchar, giorni_concessi integer,
    attivo_dal date, attivo_al date
);

create table ops.ingest_files (
    file_sha256 varchar, feed varchar, file_name varchar, sender varchar, status varchar,
    rows_data integer, rows_loaded integer, rows_rejected integer, rows_warned integer,
    rows_skipped integer, error varchar, reference_date date, coverage_start date,
    coverage_end date, received_seq integer, received_at timestamp, sheets_read varchar,
    sheets_ignored varchar, feedback_file varchar, file_modified_at timestamp
);
