"""The analysts' room: ``analytics.duckdb`` and its risk note, outside the data directory.

What goes into the copy is an explicit allow-list of tables and columns
(:data:`PUBLISHED`); everything else of the warehouse stays behind. Column by column:

- every person key (``person_id``, and the keys that embed it or another real-world
  identifier: ``relationship_id``, ``communication_id``, ``contact_id``) is re-keyed for
  the copy: HMAC-SHA256 under a key derived from the pseudonymisation key for this one
  purpose, so no value equals the warehouse's, the same person gets the same value from
  one publication to the next, and nobody links the two without the key. A sole trader's
  employer code (``cf:`` + pseudonym) likewise;
- no date of birth, day or month of birth: the persons' table carries the year of birth,
  the age and the age band at the cut-off date; the sentence end is a month (its first
  day); nothing from the partners' free text.

One DuckDB file takes one writer and, while it is open for writing, no reader; so
analysts never touch the live warehouse. The copy is written to a temporary file in the
analysts' folder and moved into place in one step: an analyst with the old file open
keeps reading it, and nobody ever sees a half-built one. The folder is 0750 and its
files 0640 (the analysts' group reads them), whatever the umask.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import hmac
from dataclasses import dataclass
from pathlib import Path

import duckdb

from lavoro_debole.exports.atomic import (
    DiskFullError,
    atomic_write,
    is_disk_full,
    replace_atomically,
    temp_path_for,
)
from lavoro_debole.settings import Settings

COPY_FILE = "analytics.duckdb"
RISK_NOTE_FILE = "rischio.md"
RISK_K = 5
"""Combinations shared by fewer persons than this are counted as at risk in the note."""
REKEY_CONTEXT = b"analytics/v1"
FOLDER_MODE = 0o750
FILE_MODE = 0o640

KEEP = "keep"
REKEY = "rekey"
"""An opaque key (a person's pseudonym, or a key that embeds one or a real identifier)."""
EMPLOYER = "employer"
"""``cf:<pseudonym>`` for a sole trader, re-keyed; a P.IVA stays (it is a company's)."""
MONTH = "month"
"""A date cut to the first day of its month."""

_INDICATOR_COLUMNS = {
    c: KEEP
    for c in (
        "indicator_id",
        "period",
        "breakdown",
        "category",
        "value",
        "numerator",
        "denominator",
    )
}
_INDICATOR_VALUES_COLUMNS = {
    c: KEEP
    for c in (
        "indicator_id",
        "indicator_name",
        "period",
        "period_type",
        "period_start",
        "period_end",
        "breakdown",
        "category",
        "category_order",
        "unit",
        "value",
        "numerator",
        "denominator",
        "ci_low",
        "ci_high",
        "median_persons",
    )
}
_FILE_COLUMNS = {"reference_date": KEEP, "sender": KEEP}
"""Of the lineage columns, only what says which partner's file of when."""

PUBLISHED: dict[str, dict[str, str]] = {
    # --- staging: one row per record, person attributes only in int_persons_resolved
    "staging.stg_cfp__courses": {
        "course_code": KEEP,
        "title": KEEP,
        "professional_area": KEEP,
        "site": KEEP,
        "course_type": KEEP,
        "start_date": KEEP,
        "end_date": KEEP,
        "planned_hours": KEEP,
        "funding": KEEP,
        **_FILE_COLUMNS,
    },
    "staging.stg_cfp__enrolments": {
        "person_id": REKEY,
        "course_code": KEEP,
        "enrolment_date": KEEP,
        "attended_hours": KEEP,
        "outcome": KEEP,
        "withdrawal_date": KEEP,
        **_FILE_COLUMNS,
    },
    "staging.stg_cooperative__placements": {
        "person_id": REKEY,
        "cooperative": KEEP,
        "hire_date": KEEP,
        "end_date": KEEP,
        "contract_type": KEEP,
        "weekly_hours": KEEP,
        "job": KEEP,
        "disadvantaged": KEEP,
        **_FILE_COLUMNS,
    },
    "staging.stg_imprese__contacts": {
        "company_vat": KEEP,
        "contact_date": KEEP,
        "association": KEEP,
        "ateco_code": KEEP,
        "municipality": KEEP,
        "employees_band": KEEP,
        "channel": KEEP,
        "availability": KEEP,
        "available_forms": KEEP,
        "knows_l193": KEEP,
        **_FILE_COLUMNS,
    },
    "staging.stg_ops__ingest_files": {
        "feed": KEEP,
        "sender": KEEP,
        "status": KEEP,
        "rows_data": KEEP,
        "rows_loaded": KEEP,
        "rows_rejected": KEEP,
        "reference_date": KEEP,
        "coverage_start": KEEP,
        "coverage_end": KEEP,
        "received_seq": KEEP,
        "received_date": KEEP,
    },
    "staging.stg_provincia_co__events": {
        "communication_id": REKEY,
        "person_id": REKEY,
        "event_type": KEEP,
        "event_date": KEEP,
        "relationship_start_date": KEEP,
        "planned_end_date": KEEP,
        "contract_type": KEEP,
        "contract_code": KEEP,
        "employer_code": EMPLOYER,
        "employer_code_kind": KEEP,
        "ateco_code": KEEP,
        "work_municipality": KEEP,
        "working_time": KEEP,
        "weekly_hours": KEEP,
        "occupation": KEEP,
        "incentive": KEEP,
        "termination_reason": KEEP,
        **_FILE_COLUMNS,
    },
    "staging.stg_provincia_tirocini__internships": {
        "person_id": REKEY,
        "host_vat": KEEP,
        "start_date": KEEP,
        "internship_type": KEEP,
        "promoter": KEEP,
        "planned_end_date": KEEP,
        "actual_end_date": KEEP,
        "outcome": KEEP,
        **_FILE_COLUMNS,
    },
    "staging.stg_reference__cooperative_sociali": {
        "vat": KEEP,
        "company_name": KEEP,
        "list_source": KEEP,
    },
    "staging.stg_servizi_sociali__cases": {
        "person_id": REKEY,
        "district": KEEP,
        "case_opened_date": KEEP,
        "case_closed_date": KEEP,
        "legal_status": KEEP,
        "sentence_end_date": MONTH,
        "closure_reason": KEEP,
        "needs": KEEP,
        **_FILE_COLUMNS,
    },
    "staging.stg_sportello__contacts": {
        "contact_id": REKEY,
        "contact_date": KEEP,
        "channel": KEEP,
        "user_type": KEEP,
        "person_id": REKEY,
        "birth_year": KEEP,
        "sex": KEEP,
        "main_request": KEEP,
        "referred_to": KEEP,
        **_FILE_COLUMNS,
    },
    # --- intermediate
    "intermediate.int_cases_classified": {
        "person_id": REKEY,
        "district": KEEP,
        "case_opened_date": KEEP,
        "case_closed_date": KEEP,
        "citizenship_group": KEEP,
        "legal_status": KEEP,
        "legal_status_group": KEEP,
    },
    "intermediate.int_company_contacts_by_period": {
        c: KEEP
        for c in (
            "period",
            "company_vat",
            "latest_contact_date",
            "association",
            "ateco_section",
            "knows_l193",
            "is_available",
            "offers_tirocinio",
            "offers_assunzione",
            "offers_borsa_lavoro",
        )
    },
    "intermediate.int_company_contacts_classified": {
        c: KEEP
        for c in (
            "company_vat",
            "contact_date",
            "association",
            "ateco_code",
            "ateco_section",
            "availability",
            "available_forms",
            "knows_l193",
        )
    },
    "intermediate.int_cooperative_placements_classified": {
        "person_id": REKEY,
        "cooperative": KEEP,
        "hire_date": KEEP,
        "end_date": KEEP,
        "contract_type": KEEP,
        "job": KEEP,
        "disadvantaged": KEEP,
        "is_employment": KEEP,
    },
    "intermediate.int_desk_contacts_classified": {
        "contact_id": REKEY,
        "contact_date": KEEP,
        "person_id": REKEY,
        "user_type": KEEP,
        "main_request": KEEP,
        "referred_to": KEEP,
        "is_referral": KEEP,
    },
    "intermediate.int_employment_relationship_types_by_period": {
        "relationship_id": REKEY,
        "period": KEEP,
        "contract_code": KEEP,
        "contract_group": KEEP,
    },
    "intermediate.int_employment_relationships_built": {
        "relationship_id": REKEY,
        "person_id": REKEY,
        "employer_code": EMPLOYER,
        "employer_code_kind": KEEP,
        "start_date": KEEP,
        "end_date": KEEP,
        "has_termination": KEEP,
        "first_contract_code": KEEP,
        "is_internship": KEEP,
        "has_l193_incentive": KEEP,
        "event_count": KEEP,
    },
    "intermediate.int_first_hire_cohorts_by_period": {
        "period": KEEP,
        "period_end": KEEP,
        "person_id": REKEY,
        "first_hire_date": KEEP,
        "days_to_first_hire": KEEP,
    },
    "intermediate.int_first_hires_found": {
        "person_id": REKEY,
        "first_case_date": KEEP,
        "first_hire_date": KEEP,
        "days_to_first_hire": KEEP,
    },
    "intermediate.int_internships_followed": {
        "person_id": REKEY,
        "host_vat": KEEP,
        "start_date": KEEP,
        "internship_type": KEEP,
        "actual_end_date": KEEP,
        "outcome": KEEP,
        "hired_within_90_days": KEEP,
        "ended_in_hire": KEEP,
    },
    "intermediate.int_periods_spined": {
        c: KEEP
        for c in (
            "period",
            "period_type",
            "period_year",
            "period_quarter",
            "period_start",
            "period_end",
        )
    },
    "intermediate.int_person_cases_for_period": {
        "period": KEEP,
        "person_id": REKEY,
        "district": KEEP,
        "case_opened_date": KEEP,
        "case_closed_date": KEEP,
        "citizenship_group": KEEP,
        "legal_status_group": KEEP,
    },
    "intermediate.int_persons_followed_by_period": {
        "period": KEEP,
        "period_end": KEEP,
        "person_id": REKEY,
    },
    "intermediate.int_persons_resolved": {
        "person_id": REKEY,
        "sex": KEEP,
        # birth_year, age_at_cutoff, age_band: derived below from birth_date
        "born_abroad": KEEP,
        "first_case_date": KEEP,
        "in_servizi_sociali": KEEP,
        "in_provincia_co": KEEP,
        "in_provincia_tirocini": KEEP,
        "in_cfp": KEEP,
        "in_cooperative": KEEP,
        "in_sportello": KEEP,
    },
    "intermediate.int_trainings_dated": {
        "person_id": REKEY,
        "course_code": KEEP,
        "enrolment_date": KEEP,
        "outcome": KEEP,
        "withdrawal_date": KEEP,
        "course_start_date": KEEP,
        "course_end_date": KEEP,
        "professional_area": KEEP,
        "site": KEEP,
        "course_type": KEEP,
    },
    # --- marts: aggregates
    "marts.ind_a_reach": _INDICATOR_COLUMNS,
    "marts.ind_b_training": _INDICATOR_COLUMNS,
    "marts.ind_c_internships": _INDICATOR_COLUMNS,
    "marts.ind_d_employment": _INDICATOR_COLUMNS,
    "marts.ind_e_cooperatives": _INDICATOR_COLUMNS,
    "marts.ind_f_companies": _INDICATOR_COLUMNS,
    "marts.ind_q_quality": _INDICATOR_COLUMNS,
    "marts.indicator_values": _INDICATOR_VALUES_COLUMNS,
    "marts.indicator_published": {**_INDICATOR_VALUES_COLUMNS, "suppressed": KEEP},
    # --- reference: the project's seeds
    "reference.ateco_sections": {"division": KEEP, "section": KEEP},
    "reference.cooperative_sociali_default": {"ragione_sociale": KEEP, "partita_iva": KEEP},
    "reference.indicator_categories": {
        "indicator_id": KEEP,
        "breakdown": KEEP,
        "category": KEEP,
        "sort_order": KEEP,
    },
    "reference.indicators": {"indicator_id": KEEP, "family": KEEP, "name_it": KEEP, "unit": KEEP},
}

AGE_BAND_SQL = """
case
    when {age} is null then 'non indicata'
    when {age} < 18 then '<18'
    when {age} < 25 then '18-24'
    when {age} < 35 then '25-34'
    when {age} < 45 then '35-44'
    when {age} < 55 then '45-54'
    else '55+'
end"""
"""The age bands of indicators.md (``fascia_eta``)."""

DERIVED: dict[str, dict[str, str]] = {
    "intermediate.int_persons_resolved": {
        "birth_year": "year(birth_date)",
        "age_at_cutoff": "date_sub('year', birth_date, {cutoff})",
        "age_band": AGE_BAND_SQL.format(age="date_sub('year', birth_date, {cutoff})"),
    }
}
"""Columns computed in the copy from warehouse columns that are not themselves copied."""


def published_columns(table: str) -> list[str]:
    """The copy's columns of ``table``, in order: the allow-list, then the derived ones."""
    return [*PUBLISHED[table], *DERIVED.get(table, {})]


def analytics_key(pseudonym_key: bytes) -> bytes:
    """The copy's own key, derived from the pseudonymisation key for this one purpose."""
    return hmac.digest(pseudonym_key, REKEY_CONTEXT, hashlib.sha256)


def rekey(value: str, key: bytes) -> str:
    """The copy's pseudonym of a warehouse key (64 hex characters)."""
    return hmac.digest(key, value.encode("utf-8"), hashlib.sha256).hex()


@dataclass(frozen=True)
class AnalyticsCopy:
    path: Path
    tables: int
    risk_note: Path
    persons: int
    persons_at_risk: int


def _column_sql(name: str, treatment: str) -> str:
    col = f'"{name}"'
    if treatment == KEEP:
        return col
    if treatment == REKEY:
        return f"lavoro_rekey({col}) as {col}"
    if treatment == EMPLOYER:
        return (
            f"case when starts_with({col}, 'cf:') then 'cf:' || lavoro_rekey(substr({col}, 4)) "
            f"else {col} end as {col}"
        )
    if treatment == MONTH:
        return f"cast(date_trunc('month', {col}) as date) as {col}"
    raise ValueError(f"trattamento sconosciuto per la colonna {name}: {treatment}")


def _select_sql(table: str, cutoff: dt.date) -> str:
    parts = [_column_sql(name, treatment) for name, treatment in PUBLISHED[table].items()]
    cutoff_sql = f"date '{cutoff.isoformat()}'"
    for name, expression in DERIVED.get(table, {}).items():
        parts.append(f'{expression.format(cutoff=cutoff_sql)} as "{name}"')
    schema, bare = table.split(".")
    return f'select {", ".join(parts)} from warehouse."{schema}"."{bare}"'


def _attach_options(warehouse_key: bytes | None) -> str:
    """Read-only, with the key of a warehouse encrypted at rest (reading an encrypted
    file needs no extension; the same statement as ``ingest/warehouse_db.py``'s)."""
    if warehouse_key is None:
        return "read_only"
    quoted_key = warehouse_key.decode("utf-8").replace("'", "''")
    return f"encryption_key '{quoted_key}', read_only"


def publish_analytics(
    warehouse_path: Path,
    analytics_dir: Path,
    *,
    pseudonym_key: bytes,
    cutoff: dt.date,
    k: int = RISK_K,
    config: dict[str, str] | None = None,
    warehouse_key: bytes | None = None,
) -> AnalyticsCopy:
    """Write the analysts' copy and its risk note into ``analytics_dir``, atomically.

    ``warehouse_key``: the key of a warehouse encrypted at rest. The copy itself is never
    encrypted (analysts open it with the plain DuckDB command line)."""
    analytics_dir.mkdir(parents=True, exist_ok=True)
    analytics_dir.chmod(FOLDER_MODE)
    target = analytics_dir / COPY_FILE
    temp_name = str(temp_path_for(target))  # DuckDB must create the file itself
    key = analytics_key(pseudonym_key)
    try:
        con = duckdb.connect(temp_name, config=config or {})
        try:
            # A person has many rows: each distinct key is hashed once.
            cached = functools.lru_cache(maxsize=1 << 18)(lambda value: rekey(value, key))
            con.create_function(
                "lavoro_rekey",
                cached,
                [duckdb.sqltype("VARCHAR")],
                duckdb.sqltype("VARCHAR"),
                side_effects=False,
            )
            quoted = str(warehouse_path).replace("'", "''")  # ATTACH takes no parameters
            con.execute(f"attach '{quoted}' as warehouse ({_attach_options(warehouse_key)})")
            for schema in sorted({table.split(".")[0] for table in PUBLISHED}):
                con.execute(f'create schema if not exists "{schema}"')
            for table in PUBLISHED:
                schema, bare = table.split(".")
                con.execute(f'create table "{schema}"."{bare}" as {_select_sql(table, cutoff)}')
            con.execute("detach warehouse")
            con.remove_function("lavoro_rekey")
            risk = disclosure_risk(con, cutoff, k)
            con.execute("checkpoint")
        finally:
            con.close()
        Path(temp_name).chmod(FILE_MODE)
        replace_atomically(Path(temp_name), target)
    except BaseException as exc:
        Path(temp_name).unlink(missing_ok=True)
        Path(temp_name + ".wal").unlink(missing_ok=True)
        if is_disk_full(exc) and not isinstance(exc, DiskFullError):
            raise DiskFullError() from None
        raise
    note = write_risk_note(analytics_dir, risk, cutoff)
    return AnalyticsCopy(target, len(PUBLISHED), note, risk.persons, risk.persons_at_risk)


def publish_for(settings: Settings) -> AnalyticsCopy:
    """Publish the analysts' copy of this deployment (the one entry point for callers)."""
    copy = publish_analytics(
        settings.warehouse_path,
        settings.analytics_folder,
        pseudonym_key=settings.require_key(),
        cutoff=settings.cutoff,
        config=settings.duckdb_config(),
        warehouse_key=settings.warehouse_key,
    )
    # An earlier version kept the copy inside the data directory, with everything.
    legacy = settings.data_dir / COPY_FILE
    if legacy != copy.path:
        legacy.unlink(missing_ok=True)
        Path(str(legacy) + ".wal").unlink(missing_ok=True)
    return copy


# --- the risk note --------------------------------------------------------------------

QUASI_IDENTIFIERS = ("sesso", "fascia_eta", "cittadinanza", "distretto", "posizione_giuridica")

RISK_SQL = """
with case_at_cutoff as (
    select person_id, district, citizenship_group, legal_status_group,
           row_number() over (
               partition by person_id
               order by case_opened_date desc,
                        (case_closed_date is null) desc,
                        case_closed_date desc nulls first
           ) as rn
    from intermediate.int_cases_classified
    where case_opened_date <= $cutoff
),
persons as (
    select p.person_id,
           coalesce(p.sex, 'non indicato') as sesso,
           p.age_band as fascia_eta,
           coalesce(c.citizenship_group, 'non indicata') as cittadinanza,
           coalesce(c.district, 'non indicata') as distretto,
           coalesce(c.legal_status_group, 'non indicata') as posizione_giuridica
    from intermediate.int_persons_resolved as p
    left join case_at_cutoff as c on c.person_id = p.person_id and c.rn = 1
)
select sesso, fascia_eta, cittadinanza, distretto, posizione_giuridica, count(*) as persone
from persons
group by all
order by persone, sesso, fascia_eta, cittadinanza, distretto, posizione_giuridica
"""


@dataclass(frozen=True)
class DisclosureRisk:
    k: int
    persons: int
    combinations: list[tuple[str, str, str, str, str, int]]

    @property
    def persons_at_risk(self) -> int:
        return sum(n for *_, n in self.combinations if n < self.k)

    @property
    def combinations_at_risk(self) -> int:
        return sum(1 for *_, n in self.combinations if n < self.k)

    @property
    def unique_persons(self) -> int:
        return sum(1 for *_, n in self.combinations if n == 1)


def disclosure_risk(
    con: duckdb.DuckDBPyConnection, cutoff: dt.date, k: int = RISK_K
) -> DisclosureRisk:
    """How many persons of the copy share each combination of the quasi-identifiers."""
    rows = con.execute(RISK_SQL, {"cutoff": cutoff}).fetchall()
    combinations = [(*(str(v) for v in row[:5]), int(row[5])) for row in rows]
    return DisclosureRisk(k, sum(n for *_, n in combinations), combinations)  # type: ignore[arg-type]


def risk_note_text(risk: DisclosureRisk, cutoff: dt.date) -> str:
    share = 100 * risk.persons_at_risk / risk.persons if risk.persons else 0.0
    lines = [
        "# Rischio di identificazione della copia per gli analisti",
        "",
        f"Data di taglio: {cutoff:%d/%m/%Y}. Persone nella copia: **{risk.persons}**.",
        "",
        "Quante persone condividono ogni combinazione di sesso, fascia d'età, cittadinanza, "
        "distretto e posizione giuridica (del caso della persona alla data di taglio; "
        "`non indicata` per chi non ha una presa in carico).",
        "",
        f"- Combinazioni diverse: **{len(risk.combinations)}**",
        f"- Combinazioni con meno di {risk.k} persone: **{risk.combinations_at_risk}**",
        f"- Persone in combinazioni con meno di {risk.k} persone: **{risk.persons_at_risk}** "
        f"({share:.1f}%)",
        f"- Persone uniche (sole nella loro combinazione): **{risk.unique_persons}**",
        "",
        "Chi conosce questi cinque dati di una persona la ritrova nella copia quando la sua "
        "combinazione è rara. La copia ha anche colonne più fini (posizione giuridica "
        "esatta, anno di nascita, date degli eventi): il rischio reale non è minore di "
        "questo. Non esportare righe individuali; i numeri piccoli non escono dall'ufficio.",
        "",
        "| sesso | fascia d'età | cittadinanza | distretto | posizione giuridica | persone |",
        "|---|---|---|---|---|---|",
    ]
    for sex, band, citizenship, district, status, n in risk.combinations:
        lines.append(f"| {sex} | {band} | {citizenship} | {district} | {status} | {n} |")
    return "\n".join(lines) + "\n"


def write_risk_note(folder: Path, risk: DisclosureRisk, cutoff: dt.date) -> Path:
    target = folder / RISK_NOTE_FILE

    def write(temp: Path) -> None:
        temp.write_text(risk_note_text(risk, cutoff), encoding="utf-8")
        temp.chmod(FILE_MODE)

    atomic_write(target, write)
    return target
