"""The written inbox: formats, habits, counts and cross-feed consistency, read back from disk."""

from __future__ import annotations

import hashlib
import json
import re
import zipfile
from collections import Counter
from datetime import date
from pathlib import Path

from codicefiscale import codicefiscale as cf_lib
from python_calamine import CalamineWorkbook
from stdnum.it import codicefiscale as stdnum_cf
from stdnum.it import iva

from lavoro_debole.synthetic import FEEDS, Manifest, generate_inbox, social_cooperatives
from tests.synthetic.conftest import as_text, decode_csv, fold, read_file

Inbox = tuple[Path, Manifest]

CF_COLUMNS = {
    "codicefiscalelavoratore",
    "codicefiscale",
    "codfiscale",
    "cf",
    "cflavoratore",
    "codicefiscaleallievo",
}
VAT_COLUMNS = {"pivaazienda", "partitaiva"}


def _norm_cf(value: object) -> str:
    return re.sub(r"\s", "", as_text(value).replace("\u00a0", " ")).upper()


def _problem_cells(manifest: Manifest, feed: str, path: str) -> set[tuple[object, int, str]]:
    item = manifest.file(feed, path)
    return {(p.sheet, p.row_number, p.column) for p in item.problems}


def _loaded(manifest: Manifest):  # type: ignore[no-untyped-def]
    return [f for f in manifest.files if f.status == "loaded"]


# ---------------------------------------------------------------- shape of the inbox


def test_every_feed_and_format_is_present(inbox: Inbox) -> None:
    data_dir, manifest = inbox
    for feed in FEEDS:
        files = sorted((data_dir / "inbox" / feed).iterdir())
        assert files, feed
        assert {f.name for f in files} == {f.path for f in manifest.files if f.feed == feed}
    formats = {(f.feed, f.format) for f in manifest.files}
    assert {("provincia_co", "xls"), ("provincia_co", "xlsx")} <= formats
    assert {("servizi_sociali", x) for x in ("xlsx", "xls", "ods", "csv")} <= formats
    assert ("cooperative", "ods") in formats and ("sportello", "csv") in formats
    statuses = Counter(f.status for f in manifest.files)
    assert statuses["duplicate"] >= 1 and statuses["rejected"] == 2
    assert not (data_dir / "inbox" / "manifest.json").exists()
    assert (data_dir / "manifest.json").exists()


def test_magic_bytes_match_the_extension(inbox: Inbox) -> None:
    data_dir, manifest = inbox
    for item in manifest.files:
        head = (data_dir / "inbox" / item.feed / item.path).read_bytes()[:8]
        if item.format == "xls":
            assert head == bytes.fromhex("D0CF11E0A1B11AE1"), item.path
        elif item.format in ("xlsx", "ods"):
            assert head[:4] == b"PK\x03\x04", item.path


def test_manifest_json_round_trips_and_holds_no_personal_value(inbox: Inbox) -> None:
    data_dir, manifest = inbox
    text = (data_dir / "manifest.json").read_text(encoding="utf-8")
    assert Manifest.from_dict(json.loads(text)) == manifest
    cf_like = set(
        re.findall(r"[A-Z]{6}[0-9LMNPQRSTUV]{2}[A-Z][0-9LMNPQRSTUV]{2}[A-Z]\w{3}[A-Z]", text)
    )
    assert cf_like <= set(manifest.planted_personal_values)


def test_same_seed_same_bytes_and_times(inbox: Inbox, tmp_path: Path) -> None:
    data_dir, manifest = inbox
    again = generate_inbox(tmp_path, persons=40, seed=1)
    assert again == manifest
    for item in manifest.files:
        first = data_dir / "inbox" / item.feed / item.path
        second = tmp_path / "inbox" / item.feed / item.path
        assert first.read_bytes() == second.read_bytes(), item.path
        assert first.stat().st_mtime == second.stat().st_mtime, item.path
        assert hashlib.sha256(first.read_bytes()).hexdigest() == item.sha256
    other = generate_inbox(tmp_path / "other", persons=40, seed=2)
    assert [f.sha256 for f in other.files] != [f.sha256 for f in manifest.files]


def test_receipt_order_is_the_mtime_order(inbox: Inbox) -> None:
    data_dir, manifest = inbox
    by_mtime = sorted(
        manifest.files,
        key=lambda f: ((data_dir / "inbox" / f.feed / f.path).stat().st_mtime, f.feed, f.path),
    )
    assert [f.received_order for f in by_mtime] == list(range(1, len(manifest.files) + 1))
    resend = next(f for f in manifest.files if "_rettifica" in f.path)
    original = manifest.file(resend.feed, resend.path.replace("_rettifica", ""))
    assert resend.reference_date == original.reference_date
    assert resend.received_order > original.received_order


# ------------------------------------------------------------------------ the counts


def test_manifest_counts_agree_with_a_recount(inbox: Inbox) -> None:
    data_dir, manifest = inbox
    for item in manifest.files:
        path = data_dir / "inbox" / item.feed / item.path
        if item.status != "loaded":
            assert item.rows_data == item.rows_loaded == item.rows_skipped == 0
            continue
        sheets, ignored = read_file(path, item.feed)
        assert [s.name for s in sheets] == item.sheets_read, item.path
        assert ignored == item.sheets_ignored, item.path
        assert sum(len(s.data_rows) for s in sheets) == item.rows_data, item.path
        assert sum(s.skipped for s in sheets) == item.rows_skipped, item.path
        errors = {(p.sheet, p.row_number) for p in item.problems if p.severity == "error"}
        warnings = {(p.sheet, p.row_number) for p in item.problems if p.severity == "warning"}
        assert len(errors) == item.rows_rejected
        assert len(warnings - errors) == item.rows_warned
        assert item.rows_loaded == item.rows_data - item.rows_rejected
        by_name = {s.name: s for s in sheets}
        for problem in item.problems:  # each problem points at a data row and a real column
            sheet = by_name[problem.sheet]
            assert problem.row_number - 1 in sheet.data_rows, (item.path, problem)
            assert problem.column in sheet.header(), (item.path, problem)


def test_every_error_kind_and_the_warning_are_planted(inbox: Inbox) -> None:
    _, manifest = inbox
    kinds = {p.kind for f in manifest.files for p in f.problems if p.severity == "error"}
    assert kinds == {
        "missing",
        "cf_invalid",
        "piva_invalid",
        "date_invalid",
        "number_invalid",
        "yesno_invalid",
        "vocabulary",
        "date_order",
    }
    warnings = [p for f in manifest.files for p in f.problems if p.severity == "warning"]
    assert warnings and all(p.kind == "cf_invalid" for p in warnings)
    assert {f.feed for f in manifest.files if f.rows_warned} == {"sportello"}
    for feed in FEEDS:
        assert any(f.rows_rejected for f in manifest.files if f.feed == feed), feed


def test_planted_values_are_really_wrong(inbox: Inbox) -> None:
    data_dir, manifest = inbox
    for item in _loaded(manifest):
        if not item.problems:
            continue
        sheets, _ = read_file(data_dir / "inbox" / item.feed / item.path, item.feed)
        by_name = {s.name: s for s in sheets}
        for p in item.problems:
            value = by_name[p.sheet].cell(p.row_number, p.column)
            text = as_text(value).strip()
            if p.kind == "missing":
                assert text == "", (item.path, p)
            elif p.kind == "cf_invalid":
                assert not stdnum_cf.is_valid(_norm_cf(value)), (item.path, p)
            elif p.kind == "piva_invalid":
                assert not iva.is_valid(text), (item.path, p)
            elif p.kind == "number_invalid":
                assert not re.fullmatch(r"[0-9.,€ ]+", text), (item.path, p)
            elif p.kind == "yesno_invalid":
                assert fold(text) not in {"si", "no", "x", "1", "0", "s"}, (item.path, p)
            elif p.kind == "date_invalid":
                assert not isinstance(value, date), (item.path, p)
            elif p.kind == "date_order":
                assert isinstance(value, date) or re.match(r"\d", text), (item.path, p)


def test_planted_personal_values_sit_in_rejected_rows(inbox: Inbox) -> None:
    data_dir, manifest = inbox
    planted_cf = manifest.planted_personal_values[0]
    assert not stdnum_cf.is_valid(planted_cf)
    hits = []
    for item in _loaded(manifest):
        sheets, _ = read_file(data_dir / "inbox" / item.feed / item.path, item.feed)
        for sheet in sheets:
            for i in sheet.data_rows:
                if any(planted_cf in as_text(v) for v in sheet.rows[i]):
                    rejected = {
                        (p.sheet, p.row_number) for p in item.problems if p.severity == "error"
                    }
                    assert (sheet.name, i + 1) in rejected
                    hits.append((item.feed, sheet.rows[i]))
    assert {feed for feed, _ in hits} >= {"provincia_co", "servizi_sociali"}
    case_row = next(row for feed, row in hits if feed == "servizi_sociali")
    joined = " ".join(as_text(v) for v in case_row)
    assert "Zebedeo" in joined and "Quintavalle" in joined


def test_every_cf_and_piva_is_valid_unless_planted(inbox: Inbox) -> None:
    data_dir, manifest = inbox
    seen_cf: set[str] = set()
    for item in _loaded(manifest):
        planted = _problem_cells(manifest, item.feed, item.path)
        sheets, _ = read_file(data_dir / "inbox" / item.feed / item.path, item.feed)
        for sheet in sheets:
            header = sheet.header()
            for col, name in enumerate(header):
                key = fold(name)
                if key not in CF_COLUMNS | VAT_COLUMNS | {"codicefiscaledatore"}:
                    continue
                for i in sheet.data_rows:
                    value = sheet.rows[i][col]
                    if as_text(value).strip() == "" or (sheet.name, i + 1, name) in planted:
                        continue
                    code = _norm_cf(value)
                    if key in CF_COLUMNS:
                        assert stdnum_cf.is_valid(code), (item.path, i + 1, name)
                        seen_cf.add(code)
                    elif key == "codicefiscaledatore" and len(code) == 16:
                        assert stdnum_cf.is_valid(code), (item.path, i + 1)
                    else:
                        assert iva.is_valid(code), (item.path, i + 1, name)
    assert len(seen_cf) >= 30
    for code in sorted(seen_cf):  # the library agrees, omocodic codes included
        assert cf_lib.is_valid(code), code
    assert any(cf_lib.is_omocode(code) for code in seen_cf)


def test_distinct_records_agree_with_a_recount(inbox: Inbox) -> None:
    """Recount CO notifications, desk contacts and company contacts by their keys."""
    data_dir, manifest = inbox
    keys: dict[str, set] = {"provincia_co": set(), "sportello": set(), "imprese": set()}
    column = {"provincia_co": "codicecomunicazione", "sportello": "idcontatto"}
    for item in _loaded(manifest):
        if item.feed not in keys:
            continue
        rejected = {(p.sheet, p.row_number) for p in item.problems if p.severity == "error"}
        sheets, _ = read_file(data_dir / "inbox" / item.feed / item.path, item.feed)
        for sheet in sheets:
            header = [fold(h) for h in sheet.header()]
            for i in sheet.data_rows:
                if (sheet.name, i + 1) in rejected:
                    continue
                row = sheet.rows[i]
                if item.feed == "imprese":
                    vat = _norm_cf(row[header.index("partitaiva")]).removeprefix("IT")
                    keys["imprese"].add((vat, row[header.index("datacontatto")]))
                else:
                    keys[item.feed].add(as_text(row[header.index(column[item.feed])]))
    for feed, found in keys.items():
        assert manifest.feeds[feed].distinct_records[feed] == len(found), feed


# ----------------------------------------------------------------------- the habits


def test_co_extract_shape(inbox: Inbox) -> None:
    data_dir, manifest = inbox
    item = max((f for f in _loaded(manifest) if f.feed == "provincia_co"), key=lambda f: f.path)
    workbook = CalamineWorkbook.from_path(str(data_dir / "inbox" / "provincia_co" / item.path))
    sheet = workbook.get_sheet_by_name("Estrazione")
    rows = sheet.to_python(skip_empty_area=False)
    assert rows[2][0] == f"Estrazione al {date.fromisoformat(item.reference_date):%d/%m/%Y}"
    assert rows[3][0] == "Codice Comunicazione" and "Data Invio" in rows[3]
    assert rows[-1][0] == f"Totale record: {item.rows_data}"
    assert ((0, 0), (0, len(rows[3]) - 1)) in sheet.merged_cell_ranges
    legacy = [f for f in _loaded(manifest) if f.feed == "provincia_co" and f.format == "xls"]
    assert legacy
    old = CalamineWorkbook.from_path(str(data_dir / "inbox" / "provincia_co" / legacy[0].path))
    assert "Agevolazione" not in old.get_sheet_by_name("Estrazione").to_python()[3]


def test_duplicate_file_has_the_same_bytes(inbox: Inbox) -> None:
    _data_dir, manifest = inbox
    duplicate = next(f for f in manifest.files if f.status == "duplicate")
    original = manifest.file(duplicate.feed, duplicate.duplicate_of or "")
    assert duplicate.sha256 == original.sha256 and duplicate.path != original.path
    assert duplicate.received_order > original.received_order


def test_rejected_files_are_unreadable_or_headerless(inbox: Inbox) -> None:
    data_dir, manifest = inbox
    rejected = [f for f in manifest.files if f.status == "rejected"]
    corrupt = next(f for f in rejected if f.path.endswith("allegato.xlsx"))
    assert not zipfile.is_zipfile(data_dir / "inbox" / corrupt.feed / corrupt.path)
    headerless = next(f for f in rejected if f is not corrupt)
    sheets, ignored = read_file(
        data_dir / "inbox" / headerless.feed / headerless.path, headerless.feed
    )
    assert sheets == [] and ignored


def test_sportello_csv_habits(inbox: Inbox) -> None:
    data_dir, _manifest = inbox
    folder = data_dir / "inbox" / "sportello"
    raw = {p.name: p.read_bytes() for p in sorted(folder.iterdir())}
    boms = [n for n, b in raw.items() if b.startswith(b"\xef\xbb\xbf")]
    cp1252 = [n for n, b in raw.items() if not b.startswith(b"\xef\xbb\xbf")]
    assert boms and cp1252
    recent = next(n for n in cp1252 if "Modalit\xe0".encode("cp1252") in raw[n])
    assert b"\r\n" in raw[recent] and b"\n" not in raw[recent].replace(b"\r\n", b"")
    try:
        raw[recent].decode("utf-8")
        raise AssertionError("a Windows-1252 file with accents is not valid UTF-8")
    except UnicodeDecodeError:
        pass
    headers = {decode_csv(b).splitlines()[0] for b in raw.values()}
    assert any("Nazionalita;" in h and ";Ora;" not in h for h in headers)
    serial_files = [n for n, b in raw.items() if re.search(rb"\r\n\d+;4\d{4};", b)]
    assert serial_files
    anonymous = sum(
        1
        for b in raw.values()
        for line in decode_csv(b).splitlines()[1:]
        if line.split(";")[4:5] == ["Familiare"] and line.split(";")[5] == ""
    )
    assert anonymous > 0


def test_tirocini_hidden_sheet_formula_and_allowance_text(inbox: Inbox) -> None:
    data_dir, manifest = inbox
    folder = data_dir / "inbox" / "provincia_tirocini"
    hidden = [
        f
        for f in manifest.files
        if f.feed == "provincia_tirocini" and f.sheets_ignored and f.status == "loaded"
    ]
    assert hidden
    latest = max(
        (f for f in _loaded(manifest) if f.feed == "provincia_tirocini"), key=lambda f: f.path
    )
    with zipfile.ZipFile(folder / latest.path) as archive:
        xml = b"".join(archive.read(n) for n in archive.namelist() if "worksheets/" in n)
    assert b"<f>ROW()-1</f>" in xml
    sheets, _ = read_file(folder / latest.path, "provincia_tirocini")
    values = [as_text(v) for s in sheets for r in s.rows for v in r]
    assert any(v.startswith("€ ") and v.endswith(",00") for v in values)


def test_cases_header_variants_and_values(inbox: Inbox) -> None:
    data_dir, manifest = inbox
    folder = data_dir / "inbox" / "servizi_sociali"
    headers: set[str] = set()
    values: set[str] = set()
    for item in _loaded(manifest):
        if item.feed != "servizi_sociali":
            continue
        for sheet in read_file(folder / item.path, item.feed)[0]:
            headers |= set(sheet.header())
            values |= {as_text(v) for i in sheet.data_rows for v in sheet.rows[i]}
    assert {"Cod. Fiscale", "C.F.", "CF", "Nato il", "Data presa\nin carico"} <= headers
    assert {"Affidato", "Dimesso", "ITALIA", "n.d.", "#N/D"} <= values
    assert any(", " in v and "lavoro" in v for v in values)
    assert any("; " in v for v in values) and any("/" in v and "lavoro" in v for v in values)
    assert any(re.fullmatch(r"\d\d/\d\d/\d{4}", v) for v in values)  # text dates (xls)
    assert any(re.fullmatch(r"\d{4}-\d\d-\d\d", v) for v in values)
    assert any(v != v.strip() or "\u00a0" in v for v in values)
    xlsx = next(f for f in _loaded(manifest) if f.path == "UdP_Lodi_casi_2025.xlsx")
    with zipfile.ZipFile(folder / xlsx.path) as archive:
        assert b't="e"><f>NA()</f><v>#N/A</v>' in archive.read("xl/worksheets/sheet1.xml")


def test_cfp_ghost_course_and_double_listing(inbox: Inbox) -> None:
    data_dir, manifest = inbox
    ghost_seen = double_seen = False
    for item in _loaded(manifest):
        if item.feed != "cfp":
            continue
        sheets, ignored = read_file(data_dir / "inbox" / "cfp" / item.path, "cfp")
        assert ignored == ["Foglio1"] and [s.name for s in sheets] == ["Corsi", "Iscritti"]
        corsi, iscritti = sheets
        defined = {as_text(corsi.rows[i][0]) for i in corsi.data_rows}
        pairs = [
            (_norm_cf(iscritti.rows[i][1]), as_text(iscritti.rows[i][0]))
            for i in iscritti.data_rows
        ]
        named = {code for _, code in pairs if code}
        ghost_seen |= bool(named - defined)
        double_seen |= any(n > 1 for n in Counter(pairs).values())
    assert ghost_seen, "an enrolment names a course that no Corsi sheet defines"
    assert double_seen, "a person is listed twice for one course"


def test_cross_feed_consistency(inbox: Inbox) -> None:
    data_dir, manifest = inbox
    cfs: dict[str, set[str]] = {feed: set() for feed in FEEDS}
    employers: set[str] = set()
    hosts: set[str] = set()
    companies: set[str] = set()
    for item in _loaded(manifest):
        errors = {(p.sheet, p.row_number) for p in item.problems if p.severity == "error"}
        for sheet in read_file(data_dir / "inbox" / item.feed / item.path, item.feed)[0]:
            header = [fold(h) for h in sheet.header()]
            for i in sheet.data_rows:
                if (sheet.name, i + 1) in errors:
                    continue
                row = dict(zip(header, sheet.rows[i], strict=False))
                for column in CF_COLUMNS:
                    if as_text(row.get(column)).strip():
                        cfs[item.feed].add(_norm_cf(row[column]))
                if "codicefiscaledatore" in row:
                    employers.add(_norm_cf(row["codicefiscaledatore"]))
                if "pivaazienda" in row:
                    hosts.add(_norm_cf(row["pivaazienda"]))
                if "partitaiva" in row:
                    companies.add(_norm_cf(row["partitaiva"]).removeprefix("IT"))
    cases = cfs["servizi_sociali"]
    for feed in ("provincia_co", "provincia_tirocini", "cfp", "cooperative"):
        assert cfs[feed] and cfs[feed] <= cases, feed
    assert cfs["sportello"] & cases
    assert hosts & employers  # internships notified in CO under the host's P.IVA
    assert companies & employers  # the employers' network contacted employers of the CO
    coop_vats = {vat for _, vat in social_cooperatives()}
    assert coop_vats & employers
    assert any(len(code) == 16 for code in employers)  # sole traders by CF


def test_social_cooperatives_are_fixed_and_valid() -> None:
    coops = social_cooperatives()
    assert coops == social_cooperatives() and len(coops) >= 5
    assert all(iva.is_valid(vat) for _, vat in coops)
    assert len({vat for _, vat in coops}) == len(coops)


def test_corrections_name_real_files(inbox: Inbox) -> None:
    _, manifest = inbox
    assert {c.feed for c in manifest.corrections} == {"provincia_co", "servizi_sociali"}
    for correction in manifest.corrections:
        earlier = manifest.file(correction.feed, correction.earlier_file)
        later = manifest.file(correction.feed, correction.later_file)
        assert earlier.received_order < later.received_order


def test_identical_bytes_load_once(inbox: Inbox) -> None:
    """Two files with the same bytes: only the first received is expected to load."""
    _, manifest = inbox
    loaded = [f.sha256 for f in manifest.files if f.status == "loaded"]
    assert len(loaded) == len(set(loaded))
    first_seen: dict[str, int] = {}
    for item in sorted(manifest.files, key=lambda f: f.received_order):
        if item.status == "duplicate":
            assert item.sha256 in first_seen and item.rows_data == 0, item.path
        first_seen.setdefault(item.sha256, item.received_order)


def test_consortium_names_each_cooperative_one_way(inbox: Inbox) -> None:
    """The cooperative is part of the placement key: one spelling per coop once trimmed."""
    data_dir, manifest = inbox
    names: set[str] = set()
    for item in _loaded(manifest):
        if not item.path.startswith("Consorzio_Arca"):
            continue
        for sheet in read_file(data_dir / "inbox" / "cooperative" / item.path, item.feed)[0]:
            col = sheet.header().index("Cooperativa")
            names |= {as_text(sheet.rows[i][col]).strip() for i in sheet.data_rows}
    names.discard("")
    members = {n.title() for n, _ in social_cooperatives()[:3]}
    assert names and names <= members
