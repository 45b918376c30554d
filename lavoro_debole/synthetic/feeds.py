"""One builder per feed: the world seen through each partner's files and habits.

Each builder yields :class:`FileSpec` objects one at a time, so a 100,000-person inbox
never holds more than one file's rows in memory. Rows that must be rejected are extra
copies of a real row with one value made wrong, so they never change what the loaded
rows say.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import date, timedelta

from lavoro_debole.synthetic import identifiers as ids
from lavoro_debole.synthetic.layout import (
    FileSpec,
    Rec,
    comma_number,
    euro,
    insert_spread,
    it_date,
    messy_cf,
    messy_text,
    periods,
    planted,
    quarter_label,
    semester_label,
    short_date,
    table,
)
from lavoro_debole.synthetic.workbook import (
    MAX_XLS_ROWS,
    Cell,
    ExcelError,
    Formula,
    SheetSpec,
    excel_serial,
)
from lavoro_debole.synthetic.world import CONTRACTS, Case, Employer, Person, World

ERR = "error"
WARN = "warning"

PLANTED_SURNAME = "Quintavalle"
PLANTED_NAME = "Zebedeo"
PLANTED_CF = ids.with_wrong_check(
    ids.make_cf(PLANTED_SURNAME, PLANTED_NAME, "M", date(1980, 1, 1), "E648")
)
PLANTED_PHONE = "345 000 1234"
PLANTED_PERSONAL_VALUES = [PLANTED_CF, PLANTED_SURNAME, PLANTED_NAME, PLANTED_PHONE]


def _feed_rng(world_seed: int, feed: str) -> random.Random:
    return random.Random(f"{world_seed}:{feed}")


# -------------------------------------------------------------------- provincia_co

CO_LAYOUT = [
    ("Codice Comunicazione", "Codice Comunicazione"),
    ("Data Invio", "Data Invio"),
    ("Codice Fiscale Lavoratore", "Codice Fiscale Lavoratore"),
    ("Tipo Comunicazione", "Tipo Comunicazione"),
    ("Data Evento", "Data Evento"),
    ("Data Inizio Rapporto", "Data Inizio Rapporto"),
    ("Data Fine Prevista", "Data Fine Prevista"),
    ("Tipologia Contrattuale", "Tipologia Contrattuale"),
    ("Codice Fiscale Datore", "Codice Fiscale Datore"),
    ("Denominazione Datore", "Denominazione Datore"),
    ("Settore ATECO", "Settore ATECO"),
    ("Comune Sede di Lavoro", "Comune Sede di Lavoro"),
    ("Tipo Orario", "Tipo Orario"),
    ("Ore Settimanali Medie", "Ore Settimanali Medie"),
    ("Qualifica Professionale", "Qualifica Professionale"),
    ("Agevolazione", "Agevolazione"),
    ("Motivo Cessazione", "Motivo Cessazione"),
]


def co_files(world: World, seed: int) -> Iterator[FileSpec]:
    """Cumulative extracts at every 30/06 and 31/12 (and at ``until``): first year in .xls."""
    rng = _feed_rng(seed, "provincia_co")
    events = []
    for person in world.persons:
        for rel in person.relationships:
            for event in rel.events:
                events.append((event.sent, event.comm_id, person, rel, event))
    events.sort(key=lambda item: (item[0], item[1]))
    dates = [last for _, last in periods(world.start, world.until, 6) if last <= world.until]
    if not dates or dates[-1] != world.until:
        dates.append(world.until)
    # a notification the Province corrects later: an earlier extract shows other hours
    corrected_id = None
    if len(dates) >= 2:
        early = [e for e in events if e[0] <= dates[0]]
        if early:
            corrected_id = early[len(early) // 2][1]
    for n, extract in enumerate(dates):
        rows = [e for e in events if e[0] <= extract]
        legacy = extract.year == world.start.year and len(rows) + 10 < MAX_XLS_ROWS
        layout = [c for c in CO_LAYOUT if not (legacy and c[0] == "Agevolazione")]
        records = []
        for sent, comm_id, person, rel, event in rows:
            employer = rel.employer
            ateco = employer.ateco[0] if legacy else " - ".join(employer.ateco)
            hours: Cell = rel.hours
            if comm_id == corrected_id and n == 0:
                hours = rel.hours - 4
            values: dict[str, Cell] = {
                "Codice Comunicazione": comm_id,
                "Data Invio": sent,
                "Codice Fiscale Lavoratore": person.cf,
                "Tipo Comunicazione": event.kind,
                "Data Evento": event.event_date,
                "Data Inizio Rapporto": rel.start,
                "Data Fine Prevista": event.planned_end,
                "Tipologia Contrattuale": CONTRACTS[event.contract_code],
                "Codice Fiscale Datore": employer.code,
                "Denominazione Datore": employer.name,
                "Settore ATECO": ateco,
                "Comune Sede di Lavoro": employer.comune,
                "Tipo Orario": rel.working_time,
                "Ore Settimanali Medie": hours,
                "Qualifica Professionale": rel.occupation,
                "Agevolazione": rel.incentive or None,
                "Motivo Cessazione": event.termination_reason or None,
            }
            records.append(Rec(values, ("provincia_co", comm_id)))
        if n == len(dates) - 1:
            base = records[0] if records else _fallback_co(world)
            bad_piva = ids.piva_with_wrong_check(world.employers[0].vat)
            insert_spread(
                records,
                [
                    planted(base, ("Codice Fiscale Lavoratore", PLANTED_CF, "cf_invalid", ERR)),
                    planted(base, ("Codice Fiscale Datore", bad_piva, "piva_invalid", ERR)),
                    planted(base, ("Tipo Comunicazione", "Assunzone", "vocabulary", ERR)),
                    planted(base, ("Data Evento", "31/02/2024", "date_invalid", ERR)),
                    planted(base, ("Ore Settimanali Medie", "venti", "number_invalid", ERR)),
                    planted(base, ("Tipologia Contrattuale", None, "missing", ERR)),
                ],
                rng,
            )
        sheet = table(
            "Estrazione",
            layout,
            records,
            "provincia_co",
            titles=[
                "PROVINCIA DI LODI - Settore Politiche del Lavoro - Centro per l'Impiego",
                "Comunicazioni Obbligatorie (UNILAV) dei lavoratori del progetto - dal "
                + it_date(world.start),
                f"Estrazione al {it_date(extract)}",
            ],
            total="Totale record: {n}",
        )
        ext = "xls" if legacy else "xlsx"
        name = f"CO_Provincia_Lodi_estrazione_{extract:%Y%m%d}.{ext}"
        spec = FileSpec(
            "provincia_co",
            name,
            ext,
            "Provincia di Lodi",
            extract,
            extract + timedelta(days=10),
            [sheet],
        )
        if corrected_id is not None and n == 0:
            spec.note = "one notification shows hours that a later extract corrects"
        yield spec
        if n == 0:  # the steward saved the same attachment twice
            yield FileSpec(
                "provincia_co",
                f"CO_Provincia_Lodi_estrazione_{extract:%Y%m%d} (1).{ext}",
                ext,
                "Provincia di Lodi",
                extract,
                extract + timedelta(days=12),
                [],
                status="duplicate",
                duplicate_of=name,
            )


def _fallback_co(world: World) -> Rec:
    person = world.persons[0]
    employer = world.employers[0]
    values: dict[str, Cell] = {
        "Codice Comunicazione": "1609822990000001",
        "Codice Fiscale Lavoratore": person.cf,
        "Tipo Comunicazione": "Assunzione",
        "Data Evento": world.start,
        "Data Inizio Rapporto": world.start,
        "Tipologia Contrattuale": CONTRACTS["A.01.00"],
        "Codice Fiscale Datore": employer.code,
        "Tipo Orario": "Tempo Pieno",
        "Ore Settimanali Medie": 40.0,
    }
    return Rec(values, ("provincia_co", "1609822990000001"))


# -------------------------------------------------------------- provincia_tirocini

TIROCINI_COLUMNS = [
    "N.",
    "Cognome e Nome",
    "Codice Fiscale",
    "Tipo",
    "Soggetto promotore",
    "Azienda ospitante",
    "P.IVA azienda",
    "Data avvio",
    "Data fine prevista",
    "Data fine effettiva",
    "Esito",
    "Indennità mensile (€)",
    "Note",
]


def tirocini_files(world: World, seed: int) -> Iterator[FileSpec]:
    """Quarterly, cumulative, one sheet per year of Data avvio; a hidden scratch sheet in T2."""
    rng = _feed_rng(seed, "provincia_tirocini")
    internships = sorted(
        ((i.start, p.idx, p, i) for p in world.persons for i in p.internships),
        key=lambda item: (item[0], item[1]),
    )
    quarters = list(periods(world.start, world.until, 3))
    for qn, (first, last) in enumerate(quarters):
        asof = min(last, world.until)
        early = first.year == world.start.year
        layout = [
            (c, "Indennita mensile (€)" if early and c.startswith("Indennit") else c)
            for c in TIROCINI_COLUMNS
        ]
        if not early:
            layout = [
                (c, "Data fine\neffettiva" if c == "Data fine effettiva" else h) for c, h in layout
            ]
        sheets: list[SheetSpec] = []
        for year in range(world.start.year, asof.year + 1):
            records: list[Rec] = []
            for begin, _, person, item in internships:
                if begin.year != year or begin > asof:
                    continue
                ended = item.actual_end is not None and item.actual_end <= asof
                outcome = item.final_outcome if ended else "In corso"
                allowance: Cell = item.allowance if len(records) % 2 else euro(item.allowance)
                values: dict[str, Cell] = {
                    "Cognome e Nome": f"{person.surname} {person.name}",
                    "Codice Fiscale": messy_cf(person.cf, rng, 0.1),
                    "Tipo": messy_text(item.kind, rng, 0.1),
                    "Soggetto promotore": item.promoter,
                    "Azienda ospitante": item.host.name,
                    "P.IVA azienda": item.host.vat,
                    "Data avvio": item.start,
                    "Data fine prevista": item.planned_end,
                    "Data fine effettiva": item.actual_end if ended else None,
                    "Esito": outcome.lower() if rng.random() < 0.1 else outcome,
                    "Indennità mensile (€)": allowance,
                    "Note": item.note or None,
                }
                records.append(
                    Rec(values, ("provincia_tirocini", person.cf, item.host.vat, item.start))
                )
            if qn == len(quarters) - 1 and year == asof.year:
                base = records[0] if records else _fallback_tirocinio(world, year)
                start_date = base.values["Data avvio"]
                assert isinstance(start_date, date)
                insert_spread(
                    records,
                    [
                        planted(
                            base,
                            (
                                "Data fine effettiva",
                                start_date - timedelta(days=3),
                                "date_order",
                                ERR,
                            ),
                            ("Esito", "Concluso", "", ""),
                        ),
                        planted(
                            base, ("Indennità mensile (€)", "cinquecento", "number_invalid", ERR)
                        ),
                        planted(base, ("Esito", "Finito", "vocabulary", ERR)),
                        planted(base, ("Tipo", None, "missing", ERR)),
                        planted(
                            base,
                            (
                                "P.IVA azienda",
                                ids.piva_with_wrong_check(
                                    world.employers[1 % len(world.employers)].vat
                                ),
                                "piva_invalid",
                                ERR,
                            ),
                        ),
                    ],
                    rng,
                )
                for rec in records:  # the Esito fix above is not a problem
                    rec.problems = [p for p in rec.problems if p[1]]
            if qn % 4 == 3 and len(records) > 2:  # a row with only its number left
                records.insert(len(records) // 2, Rec({}, kind="blank"))
            for number, rec in enumerate(records, start=1):
                rec.values["N."] = Formula("ROW()-1", number) if not early else number
            sheets.append(table(str(year), layout, records, "provincia_tirocini"))
        if qn % 4 == 1:
            scratch = table("appoggio", layout[:8], [], "provincia_tirocini")
            scratch.add(
                "data", ["1", "prova", ids.make_cf("Prova", "Prova", "M", date(1980, 1, 1), "E648")]
            )
            scratch.hidden, scratch.counted = True, False
            sheets.append(scratch)
        name = f"Tirocini_BorseLavoro_Provincia_Lodi_{quarter_label(first)}.xlsx"
        yield FileSpec(
            "provincia_tirocini",
            name,
            "xlsx",
            "Provincia di Lodi",
            last,
            last + timedelta(days=15),
            sheets,
        )
    # a pivot-table summary saved as its own file: no sheet has the feed's header
    pivot = SheetSpec("Riepilogo")
    pivot.add("title", ["Riepilogo tirocini per tipo"])
    pivot.add("title", ["Tipo", "Numero"])
    pivot.add("title", ["Borsa lavoro", 3])
    pivot.add("title", ["Totale complessivo", 3])
    pivot.counted = False
    first = quarters[-1][0]
    yield FileSpec(
        "provincia_tirocini",
        f"Tirocini_riepilogo_{first.year}.xlsx",
        "xlsx",
        "Provincia di Lodi",
        None,
        quarters[-1][1] + timedelta(days=16),
        [pivot],
        status="rejected",
        note="no sheet with a recognisable header",
    )


def _fallback_tirocinio(world: World, year: int) -> Rec:
    person, employer = world.persons[0], world.employers[0]
    begin = date(year, 3, 1)
    values: dict[str, Cell] = {
        "Codice Fiscale": person.cf,
        "Tipo": "Borsa lavoro",
        "P.IVA azienda": employer.vat,
        "Data avvio": begin,
        "Esito": "In corso",
        "Indennità mensile (€)": 400,
    }
    return Rec(values, ("provincia_tirocini", person.cf, employer.vat, begin))


# ---------------------------------------------------------------- servizi_sociali

CASE_COLUMNS = [
    "Codice Fiscale",
    "Cognome",
    "Nome",
    "Data di nascita",
    "Sesso",
    "Cittadinanza",
    "Comune di residenza",
    "Posizione giuridica",
    "Istituto",
    "Fine pena",
    "Data presa in carico",
    "Data chiusura",
    "Motivo chiusura",
    "Bisogni",
    "Assistente sociale",
    "Note",
]

SENDER_STYLE = {
    # sender: (file prefix, extension, district title, header variants, column order)
    "UdP Lodi": ("UdP_Lodi", "xlsx", "Ufficio di Piano di Lodi"),
    "UdP Casalpusterlengo": ("UdP_Casalpusterlengo", "xls", "Ufficio di Piano di Casalpusterlengo"),
    "UdP Sant'Angelo Lodigiano": (
        "UdP_SantAngeloLodigiano",
        "ods",
        "Ufficio di Piano di Sant'Angelo Lodigiano",
    ),
    "Comune di Lodi": ("Comune_Lodi", "csv", ""),
}


def _case_layout(sender: str, year: int, first_year: int) -> list[tuple[str, str]]:
    if sender == "UdP Lodi":
        headers = {
            "Data presa in carico": "Data presa\nin carico",
            "Codice Fiscale": " Codice Fiscale",
        }
        cols = [c for c in CASE_COLUMNS if not (year == first_year and c == "Istituto")]
        return [(c, headers.get(c, c)) for c in cols]
    if sender == "UdP Casalpusterlengo":
        order = [
            "Cognome",
            "Nome",
            "Codice Fiscale",
            "Data di nascita",
            "Sesso",
            "Posizione giuridica",
            "Istituto",
            "Fine pena",
            "Data presa in carico",
            "Data chiusura",
            "Motivo chiusura",
            "Cittadinanza",
            "Comune di residenza",
            "Bisogni",
            "Assistente sociale",
            "Note",
        ]
        headers = {"Codice Fiscale": "Cod. Fiscale", "Data di nascita": "Nato il"}
        return [(c, headers.get(c, c)) for c in order]
    if sender == "UdP Sant'Angelo Lodigiano":
        order = [
            "Codice Fiscale",
            "Cognome",
            "Nome",
            "Sesso",
            "Data di nascita",
            "Cittadinanza",
            "Posizione giuridica",
            "Istituto",
            "Fine pena",
            "Comune di residenza",
            "Data presa in carico",
            "Data chiusura",
            "Motivo chiusura",
            "Bisogni",
            "Telefono",
            "Assistente sociale",
            "Note",
        ]
        return [(c, "C.F." if c == "Codice Fiscale" else c) for c in order]
    return [(c, "CF" if c == "Codice Fiscale" else c.upper()) for c in CASE_COLUMNS]


def _case_values(
    sender: str, person: Person, case: Case, asof: date, rng: random.Random
) -> dict[str, Cell]:
    closed = case.closed if case.closed is not None and case.closed <= asof else None
    separator = {"UdP Lodi": ", ", "UdP Sant'Angelo Lodigiano": "; ", "Comune di Lodi": "/"}
    needs = separator.get(sender, ",").join(case.needs)
    status = case.legal_status
    citizenship = person.citizenship
    sex: str = person.sex
    if sender == "UdP Sant'Angelo Lodigiano":
        status = {
            "Affidamento in prova ai servizi sociali": "Affidato",
            "Ex detenuto": "Dimesso",
        }.get(status, status)
        citizenship = "ITALIA" if citizenship == "Italiana" else citizenship
    elif sender == "Comune di Lodi":
        status = status.upper() if rng.random() < 0.3 else status
    elif sender == "UdP Casalpusterlengo":
        sex = "Maschio" if sex == "M" else "Femmina"
    sentence_end: Cell = case.sentence_end
    if sentence_end is None and rng.random() < 0.5:
        sentence_end = "n.d."
    return {
        "Codice Fiscale": messy_cf(person.cf, rng, 0.15 if sender != "Comune di Lodi" else 0),
        "Cognome": messy_text(person.surname, rng, 0.2),
        "Nome": person.name,
        "Data di nascita": person.birthdate,
        "Sesso": sex,
        "Cittadinanza": citizenship,
        "Comune di residenza": person.residence,
        "Posizione giuridica": status,
        "Istituto": case.institution or None,
        "Fine pena": sentence_end,
        "Data presa in carico": case.opened,
        "Data chiusura": closed,
        "Motivo chiusura": case.closure_reason if closed else None,
        "Bisogni": needs,
        "Telefono": person.phone,
        "Assistente sociale": case.social_worker,
        "Note": case.note or None,
    }


def _resend_target(world: World) -> tuple[str, int, Case, Person]:
    """The S1 file re-sent corrected: it first showed open a case already closed by 30/06."""
    for first, last in periods(world.start, world.until, 6):
        if first.month != 1 or last > world.until:
            continue
        for sender in SENDER_STYLE:
            for person in world.persons:
                for case in person.cases:
                    closed_in_s1 = case.closed is not None and first < case.closed <= last
                    if case.sender == sender and closed_in_s1 and case.opened < first:
                        return sender, first.year, case, person
    # none happened by chance: close one case in the first full semester
    first = next(
        f
        for f, last in periods(world.start, world.until, 6)
        if f.month == 1 and last <= world.until
    )
    for person in world.persons:
        case = person.cases[-1]
        if case.opened < first and case.closed is None:
            case.closed, case.closure_reason = first + timedelta(days=100), "Obiettivi raggiunti"
            return case.sender, first.year, case, person
    raise RuntimeError("no case suitable for a corrected re-send; use more persons")


def servizi_sociali_files(world: World, seed: int) -> Iterator[FileSpec]:
    rng = _feed_rng(seed, "servizi_sociali")
    resend_sender, resend_year, resend_case, resend_person = _resend_target(world)
    by_sender: dict[str, list[tuple[Person, Case]]] = {s: [] for s in SENDER_STYLE}
    for person in world.persons:
        for case in person.cases:
            by_sender[case.sender].append((person, case))
    for items in by_sender.values():
        items.sort(key=lambda pc: (pc[0].surname, pc[0].name, pc[1].opened))
    years = list(periods(world.start, world.until, 12))
    last_year = years[-1][0].year
    for year_first, year_last in years:
        year = year_first.year
        for label, period_end in (("_S1", date(year, 6, 30)), ("", year_last)):
            if label and period_end > world.until:
                continue
            asof = min(period_end, world.until)
            for sender, (prefix, ext, title) in SENDER_STYLE.items():
                records = []
                for person, case in by_sender[sender]:
                    if case.opened > asof or (case.closed and case.closed < year_first):
                        continue
                    values = _case_values(sender, person, case, asof, rng)
                    key = ("servizi_sociali", person.cf, case.district, case.opened)
                    records.append(Rec(values, key))
                if sender == "UdP Lodi" and records and ext == "xlsx":
                    records[len(records) // 2].values["Fine pena"] = ExcelError()
                    records.insert(len(records) // 3, Rec({}, kind="blank"))
                if sender == "UdP Sant'Angelo Lodigiano" and records:
                    records[-1].values["Fine pena"] = ExcelError()
                final = year == last_year and label == ""
                if final and sender == "UdP Lodi":
                    base = _first_data(records) or _fallback_case(world)
                    opened = base.values["Data presa in carico"]
                    assert isinstance(opened, date)
                    privacy = planted(
                        base,
                        ("Codice Fiscale", PLANTED_CF, "cf_invalid", ERR),
                        ("Cognome", PLANTED_SURNAME, "", ""),
                        ("Nome", PLANTED_NAME, "", ""),
                        ("Note", f"chiamare il fratello al {PLANTED_PHONE}", "", ""),
                    )
                    privacy.problems = [p for p in privacy.problems if p[1]]
                    insert_spread(
                        records,
                        [
                            privacy,
                            planted(
                                base,
                                ("Posizione giuridica", "In attesa di giudizio", "vocabulary", ERR),
                            ),
                            planted(
                                base,
                                ("Data chiusura", opened - timedelta(days=10), "date_order", ERR),
                                ("Motivo chiusura", "Abbandono", "", ""),
                            ),
                            planted(base, ("Codice Fiscale", None, "missing", ERR)),
                        ],
                        rng,
                    )
                    for rec in records:
                        rec.problems = [p for p in rec.problems if p[1]]
                if final and sender == "UdP Sant'Angelo Lodigiano":
                    base = _first_data(records) or _fallback_case(world)
                    insert_spread(
                        records,
                        [
                            planted(base, ("Data presa in carico", "ieri", "date_invalid", ERR)),
                        ],
                        rng,
                    )
                if ext == "xls" and len(records) + 10 > MAX_XLS_ROWS:
                    ext = "xlsx"  # beyond what a .xls sheet holds: the office saves as .xlsx
                layout = _case_layout(sender, year, years[0][0].year)
                titles: list[str] = []
                if title:
                    titles = [title, f"Registro prese in carico area penale - anno {year}"]
                    if label:
                        titles[1] += f" - aggiornamento al {it_date(period_end)}"
                    if sender != "UdP Sant'Angelo Lodigiano":
                        titles.append("")
                total = None
                if sender == "UdP Casalpusterlengo":
                    total = "Totale"
                elif ext in ("xlsx", "ods"):
                    total = "Totale record: {n}"

                def text_dates(canonical: str, value: Cell, y: int = year, s: str = sender) -> Cell:
                    if (
                        isinstance(value, date)
                        and s == "UdP Casalpusterlengo"
                        and y == years[0][0].year
                    ):
                        return it_date(value)
                    return value

                sheet = table(
                    f"Casi {year}",
                    layout,
                    records,
                    "servizi_sociali",
                    titles,
                    total,
                    transform=text_dates,
                )
                name = f"{prefix}_casi_{year}{label}.{ext}"
                spec = FileSpec(
                    "servizi_sociali",
                    name,
                    ext,
                    sender,
                    period_end,
                    period_end + timedelta(days=20),
                    [sheet],
                    csv_date_format="%Y-%m-%d",
                )
                resend = sender == resend_sender and year == resend_year and label == "_S1"
                if not resend:
                    yield spec
                    continue
                # the corrected re-send shows the case closed; the first copy did not
                fixed = FileSpec(
                    "servizi_sociali",
                    f"{prefix}_casi_{year}{label}_rettifica.{ext}",
                    ext,
                    sender,
                    period_end,
                    period_end + timedelta(days=35),
                    [sheet],
                    csv_date_format="%Y-%m-%d",
                    note="corrected re-send: a case now closed",
                )
                original_records = []
                for rec in records:
                    copy = Rec(dict(rec.values), rec.key, list(rec.problems), rec.kind)
                    same = rec.key == (
                        "servizi_sociali",
                        resend_person.cf,
                        resend_case.district,
                        resend_case.opened,
                    )
                    if same and not rec.problems and rec.values["Data chiusura"]:
                        copy.values["Data chiusura"] = None
                        copy.values["Motivo chiusura"] = None
                    original_records.append(copy)
                spec.sheets = [
                    table(
                        f"Casi {year}",
                        layout,
                        original_records,
                        "servizi_sociali",
                        titles,
                        total,
                        transform=text_dates,
                    )
                ]
                yield spec
                yield fixed


def _first_data(records: list[Rec]) -> Rec | None:
    return next((r for r in records if r.kind == "data" and not r.problems), None)


def _fallback_case(world: World) -> Rec:
    person = world.persons[0]
    case = person.cases[0]
    values = _case_values("UdP Lodi", person, case, world.until, random.Random(0))
    return Rec(values, ("servizi_sociali", person.cf, case.district, case.opened))


# ---------------------------------------------------------------------------- cfp

CORSI_LAYOUT = [
    (c, c)
    for c in (
        "Codice corso",
        "Titolo",
        "Area professionale",
        "Sede",
        "Tipo",
        "Data inizio",
        "Data fine",
        "Ore previste",
        "Finanziamento",
    )
]
ISCRITTI_LAYOUT = [
    (c, c)
    for c in (
        "Codice corso",
        "Codice fiscale allievo",
        "Allievo",
        "Data iscrizione",
        "Ore frequentate",
        "Esito",
        "Data ritiro",
    )
]


def cfp_files(world: World, seed: int) -> Iterator[FileSpec]:
    """Every semester: courses running in it (sheet Corsi), their enrolments (Iscritti)."""
    rng = _feed_rng(seed, "cfp")
    enrolments = [(p, e) for p in world.persons for e in p.enrolments]
    semesters = list(periods(world.start, world.until, 6))
    for sn, (first, last) in enumerate(semesters):
        asof = min(last, world.until)
        courses = [c for c in world.courses if c.start <= asof and c.end >= first]
        codes = {c.code for c in courses}
        corsi = [
            Rec(
                {
                    "Codice corso": c.code,
                    "Titolo": c.title,
                    "Area professionale": c.area,
                    "Sede": c.site,
                    "Tipo": c.kind,
                    "Data inizio": c.start,
                    "Data fine": c.end,
                    "Ore previste": c.hours,
                    "Finanziamento": c.funding,
                },
                ("cfp_corsi", c.code),
            )
            for c in courses
        ]
        iscritti: list[Rec] = []
        for person, enr in enrolments:
            if enr.course.code not in codes or enr.enrolled > asof:
                continue
            course = enr.course
            if enr.withdrawn is not None and enr.withdrawn <= asof:
                outcome, withdrawn, hours = "Ritirato", enr.withdrawn, enr.attended
            elif course.end <= asof:
                outcome, withdrawn, hours = enr.final_outcome, None, enr.attended
                if outcome == "Ritirato":  # withdrawn after the file date is still running
                    outcome = "In corso"
            else:
                outcome, withdrawn = "In corso", None
                elapsed = (asof - course.start).days / max(1, (course.end - course.start).days)
                hours = round(course.hours * max(0.0, elapsed) * 2) / 2
            shown: Cell = comma_number(hours) if rng.random() < 0.4 else hours
            iscritti.append(
                Rec(
                    {
                        "Codice corso": course.code,
                        "Codice fiscale allievo": messy_cf(person.cf, rng, 0.1),
                        "Allievo": f"{person.surname.upper()} {person.name}",
                        "Data iscrizione": enr.enrolled,
                        "Ore frequentate": shown,
                        "Esito": outcome,
                        "Data ritiro": withdrawn,
                    },
                    ("cfp_iscritti", person.cf, course.code),
                )
            )
        if sn == 0 and iscritti:  # the same person listed twice for one course
            iscritti.insert(1, Rec(dict(iscritti[0].values), iscritti[0].key))
        if sn == min(1, len(semesters) - 1):  # an enrolment in a course no Corsi sheet defines
            person = world.persons[min(3, len(world.persons) - 1)]
            ghost = f"MAG-{first.year}-97"
            iscritti.append(
                Rec(
                    {
                        "Codice corso": ghost,
                        "Codice fiscale allievo": person.cf,
                        "Allievo": f"{person.surname.upper()} {person.name}",
                        "Data iscrizione": first + timedelta(days=10),
                        "Esito": "In corso",
                    },
                    ("cfp_iscritti", person.cf, ghost),
                )
            )
        if sn == len(semesters) - 1:
            base_c = corsi[0] if corsi else _fallback_course(first)
            c_start = base_c.values["Data inizio"]
            assert isinstance(c_start, date)
            bad_course = planted(
                base_c, ("Data fine", c_start - timedelta(days=5), "date_order", ERR)
            )
            bad_course.values["Codice corso"] = f"EDIL-{first.year}-98"
            bad_course.key = ("cfp_corsi", f"EDIL-{first.year}-98")
            insert_spread(corsi, [bad_course], rng)
            base_i = iscritti[0] if iscritti else _fallback_enrolment(world, first)
            enrolled = base_i.values["Data iscrizione"]
            assert isinstance(enrolled, date)
            insert_spread(
                iscritti,
                [
                    planted(base_i, ("Ore frequentate", "trenta", "number_invalid", ERR)),
                    planted(base_i, ("Esito", "Promosso", "vocabulary", ERR)),
                    planted(
                        base_i,
                        ("Data ritiro", enrolled - timedelta(days=2), "date_order", ERR),
                        ("Esito", "Ritirato", "", ""),
                    ),
                    planted(base_i, ("Codice corso", None, "missing", ERR)),
                ],
                rng,
            )
            for rec in iscritti:
                rec.problems = [p for p in rec.problems if p[1]]
        scratch = SheetSpec("Foglio1", counted=False)
        scratch.add("title", ["promemoria: inviare registro presenze"])
        scratch.add("title", [None, "da verificare", 3])
        sheets = [
            table("Corsi", CORSI_LAYOUT, corsi, "cfp_corsi"),
            table("Iscritti", ISCRITTI_LAYOUT, iscritti, "cfp_iscritti"),
            scratch,
        ]
        name = f"CFP_Consortile_corsi_iscritti_{semester_label(first)}.xlsx"
        yield FileSpec(
            "cfp",
            name,
            "xlsx",
            "CFP Consortile del Lodigiano",
            last,
            last + timedelta(days=12),
            sheets,
        )


def _fallback_course(first: date) -> Rec:
    code = f"SIC-{first.year}-99"
    values: dict[str, Cell] = {
        "Codice corso": code,
        "Tipo": "Sicurezza sul lavoro",
        "Data inizio": first,
        "Data fine": first + timedelta(days=3),
    }
    return Rec(values, ("cfp_corsi", code))


def _fallback_enrolment(world: World, first: date) -> Rec:
    person = world.persons[0]
    code = f"SIC-{first.year}-99"
    values: dict[str, Cell] = {
        "Codice corso": code,
        "Codice fiscale allievo": person.cf,
        "Data iscrizione": first,
        "Esito": "In corso",
    }
    return Rec(values, ("cfp_iscritti", person.cf, code))


# -------------------------------------------------------------------- cooperative

COOP_COLUMNS = [
    "Cooperativa",
    "C.F. lavoratore",
    "Lavoratore",
    "Data assunzione",
    "Data cessazione",
    "Tipo contratto",
    "Ore settimanali",
    "Mansione",
    "Svantaggio L.381/91",
    "Retribuzione lorda mensile",
]

COOP_SENDERS = {
    # sender: (file prefix, ext, title row, header texts, yes/no spellings)
    "Consorzio Arca": (
        "Consorzio_Arca",
        "xlsx",
        "Consorzio Arca - inserimenti lavorativi L.381/91",
        {},
        ("Sì", "No"),
    ),
    "Il Mosaico Servizi": (
        "Il_Mosaico_Servizi",
        "ods",
        "Il Mosaico Servizi Società Cooperativa Sociale Onlus",
        {
            "C.F. lavoratore": "Codice Fiscale",
            "Data assunzione": "DATA ASSUNZIONE",
            "Data cessazione": "data cessazione",
        },
        ("SI", "NO"),
    ),
    "Il Girasole": (
        "Coop_Il_Girasole",
        "xlsx",
        "Il Girasole Cooperativa Sociale",
        {
            "C.F. lavoratore": "CF",
            "Ore settimanali": "Ore\nsettimanali",
            "Svantaggio L.381/91": "Svantaggio  L.381/91 ",
        },
        ("X", "0"),
    ),
}


def cooperative_files(world: World, seed: int) -> Iterator[FileSpec]:
    rng = _feed_rng(seed, "cooperative")
    placements = [(p, pl) for p in world.persons for pl in p.placements]
    placements.sort(key=lambda item: (item[1].hire, item[0].idx))
    semesters = list(periods(world.start, world.until, 6))
    for sn, (first, last) in enumerate(semesters):
        asof = min(last, world.until)
        for sender, (prefix, ext, title, headers, yes_no) in COOP_SENDERS.items():
            columns = COOP_COLUMNS if sender == "Consorzio Arca" else COOP_COLUMNS[1:]
            if sender == "Il Girasole":
                columns = [columns[0], columns[4], columns[2], columns[3], *columns[5:], columns[1]]
            layout = [(c, headers.get(c, c)) for c in columns]
            records: list[Rec] = []
            for person, pl in placements:
                if pl.coop.sender != sender or pl.hire > asof:
                    continue
                if pl.end is not None and pl.end < first:
                    continue
                end = pl.end if pl.end is not None and pl.end <= asof else None
                pay: Cell = euro(pl.pay) if sender != "Consorzio Arca" else pl.pay
                values: dict[str, Cell] = {
                    "Cooperativa": pl.coop.name.title() + (" " if rng.random() < 0.1 else ""),
                    "C.F. lavoratore": messy_cf(person.cf, rng, 0.2),
                    "Lavoratore": f"{person.surname} {person.name}",
                    "Data assunzione": pl.hire,
                    "Data cessazione": end,
                    "Tipo contratto": pl.contract,
                    "Ore settimanali": pl.hours if rng.random() < 0.6 else comma_number(pl.hours),
                    "Mansione": pl.job,
                    "Svantaggio L.381/91": yes_no[0] if pl.disadvantaged else yes_no[1],
                    "Retribuzione lorda mensile": pay,
                }
                records.append(Rec(values, ("cooperative", person.cf, pl.coop.vat, pl.hire)))
            if sn == len(semesters) - 1:
                base = records[0] if records else _fallback_placement(world, sender, first)
                hire = base.values["Data assunzione"]
                assert isinstance(hire, date)
                bad = [
                    planted(base, ("Svantaggio L.381/91", "forse", "yesno_invalid", ERR)),
                    planted(base, ("Tipo contratto", "Stagionale", "vocabulary", ERR)),
                    planted(base, ("Ore settimanali", -20, "number_invalid", ERR)),
                    planted(
                        base, ("Data cessazione", hire - timedelta(days=30), "date_order", ERR)
                    ),
                    planted(base, ("C.F. lavoratore", None, "missing", ERR)),
                ]
                if sender == "Consorzio Arca":
                    bad.append(planted(base, ("Cooperativa", None, "missing", ERR)))
                insert_spread(records, bad if sender != "Il Girasole" else bad[:2], rng)

            def shorten(canonical: str, value: Cell, s: str = sender) -> Cell:
                if s == "Il Mosaico Servizi" and isinstance(value, date) and value.day % 3 == 0:
                    return short_date(value)
                return value

            half = "1° semestre" if first.month == 1 else "2° semestre"
            sheet = table(
                "Inserimenti",
                layout,
                records,
                "cooperative",
                titles=[title, f"Inserimenti lavorativi - {half} {first.year}"],
                transform=shorten,
            )
            name = f"{prefix}_inserimenti_{semester_label(first)}.{ext}"
            yield FileSpec(
                "cooperative", name, ext, sender, last, last + timedelta(days=25), [sheet]
            )


def _fallback_placement(world: World, sender: str, first: date) -> Rec:
    person = world.persons[0]
    coop = next(c for c in world.cooperatives if c.sender == sender)
    values: dict[str, Cell] = {
        "Cooperativa": coop.name.title(),
        "C.F. lavoratore": person.cf,
        "Data assunzione": first,
        "Tipo contratto": "Determinato",
        "Svantaggio L.381/91": "Sì",
    }
    return Rec(values, ("cooperative", person.cf, coop.vat, first))


# ----------------------------------------------------------------------- sportello

DESK_COLUMNS = [
    "ID contatto",
    "Data",
    "Ora",
    "Modalità",
    "Tipo utente",
    "Codice fiscale",
    "Cognome",
    "Nome",
    "Anno nascita",
    "Sesso",
    "Nazionalità",
    "Richiesta principale",
    "Inviato a",
    "Operatore",
    "Note",
]


def sportello_files(world: World, seed: int) -> Iterator[FileSpec]:
    """Monthly CSV; the first year without ``Ora`` and without accents in the header."""
    rng = _feed_rng(seed, "sportello")
    months = list(periods(world.start, world.until, 1))
    by_month: dict[tuple[int, int], list] = {}
    for contact in world.desk_contacts:
        by_month.setdefault((contact.when.year, contact.when.month), []).append(contact)
    serial_month = months[min(14, len(months) - 1)][0]
    warn_month = months[min(15, len(months) - 1)][0]
    error_month = months[-1][0]
    next_id = 9_000_000
    for first, last in months:
        early = first.year == world.start.year
        layout = [
            (c, c.replace("à", "a") if early else c)
            for c in DESK_COLUMNS
            if not (early and c == "Ora")
        ]
        records: list[Rec] = []
        for contact in by_month.get((first.year, first.month), []):
            person = contact.person
            values: dict[str, Cell] = {
                "ID contatto": contact.contact_id,
                "Data": contact.when,
                "Ora": contact.time,
                "Modalità": contact.channel,
                "Tipo utente": contact.user_type,
                "Codice fiscale": messy_cf(person.cf, rng, 0.2) if person else None,
                "Cognome": messy_text(person.surname, rng, 0.2) if person else None,
                "Nome": person.name if person else None,
                "Anno nascita": contact.birth_year,
                "Sesso": contact.sex,
                "Nazionalità": contact.nationality,
                "Richiesta principale": messy_text(contact.request, rng, 0.15),
                "Inviato a": contact.referred or None,
                "Operatore": contact.operator,
                "Note": contact.note or None,
            }
            records.append(Rec(values, ("sportello", contact.contact_id)))
        if first == warn_month:
            with_cf = [r for r in records if r.values["Codice fiscale"]]
            for n, rec in enumerate(with_cf[:2]):
                cf = str(rec.values["Codice fiscale"]).strip().replace(" ", "").upper()
                rec.values["Codice fiscale"] = ids.with_wrong_check(cf) if n == 0 else cf[:11]
                rec.problems.append(("Codice fiscale", "cf_invalid", WARN))
            if len(records) > 1:
                records.insert(1, Rec({}, kind="blank"))
        if first == error_month:
            base = records[0] if records else _fallback_desk(world, first)
            bad = []
            for column, value, kind in (
                ("Tipo utente", "Volontario", "vocabulary"),
                ("Data", f"30/02/{first.year}", "date_invalid"),
                ("Data", None, "missing"),
                ("Sesso", "X", "vocabulary"),
            ):
                rec = planted(base, (column, value, kind, ERR))
                next_id += 1
                rec.values["ID contatto"] = next_id
                rec.key = ("sportello", next_id)
                bad.append(rec)
            insert_spread(records, bad, rng)

        def serial(canonical: str, value: Cell, f: date = first) -> Cell:
            if canonical == "Data" and isinstance(value, date) and f == serial_month:
                return int(excel_serial(value))
            return value

        sheet = table("", layout, records, "sportello", transform=serial)
        utf8 = first.year == world.until.year and first.month >= 7
        name = f"sportello_contatti_{first.year}_{first.month:02d}.csv"
        yield FileSpec(
            "sportello",
            name,
            "csv",
            "Sportello Caritas Lodigiana",
            last,
            last + timedelta(days=5),
            [sheet],
            csv_encoding="utf-8-sig" if utf8 else "cp1252",
        )


def _fallback_desk(world: World, first: date) -> Rec:
    values: dict[str, Cell] = {
        "ID contatto": 8_999_999,
        "Data": first,
        "Tipo utente": "Altro",
        "Sesso": "M",
    }
    return Rec(values, ("sportello", 8_999_999))


# ------------------------------------------------------------------------- imprese

IMPRESE_COLUMNS = [
    "Ragione sociale",
    "Partita IVA",
    "Associazione",
    "Settore ATECO",
    "Comune",
    "Dipendenti",
    "Data contatto",
    "Canale",
    "Disponibilità",
    "Forme disponibili",
    "Conosce L.193/2000",
    "Referente",
    "Telefono",
    "Email",
    "Note",
]
BANDS = ((9, "0-9"), (49, "10-49"), (249, "50-249"))


def _band(employees: int) -> str:
    return next((band for top, band in BANDS if employees <= top), "250+")


def imprese_files(world: World, seed: int) -> Iterator[FileSpec]:
    """Yearly registers, quarterly in the last year; one corrupt attachment."""
    rng = _feed_rng(seed, "imprese")
    years = list(periods(world.start, world.until, 12))
    plan: list[tuple[date, date, str]] = []
    for first, last in years:
        if first.year < world.until.year:
            plan.append((first, last, str(first.year)))
        else:
            for q_first, q_last in periods(first, world.until, 3):
                if q_last <= world.until:
                    plan.append((q_first, q_last, quarter_label(q_first)))
            if last <= world.until or not plan or plan[-1][1] < first:
                plan.append((first, last, str(first.year)))
    for fn, (first, last, label) in enumerate(plan):
        records: list[Rec] = []
        for contact in world.company_contacts:
            if not first <= contact.when <= min(last, world.until):
                continue
            employer: Employer = contact.employer
            vat = employer.vat if rng.random() > 0.1 else f"IT{employer.vat}"
            employees: Cell = (
                employer.employees if rng.random() < 0.5 else _band(employer.employees)
            )
            separator = ", " if rng.random() < 0.7 else "; "
            values: dict[str, Cell] = {
                "Ragione sociale": messy_text(employer.name, rng, 0.1),
                "Partita IVA": vat,
                "Associazione": employer.association,
                "Settore ATECO": employer.ateco[0]
                if rng.random() < 0.5
                else " - ".join(employer.ateco),
                "Comune": employer.comune,
                "Dipendenti": employees,
                "Data contatto": contact.when,
                "Canale": contact.channel,
                "Disponibilità": contact.availability,
                "Forme disponibili": separator.join(contact.forms) or None,
                "Conosce L.193/2000": ("Sì" if contact.knows_193 else "No")
                if rng.random() < 0.8
                else ("sì" if contact.knows_193 else "NO"),
                "Referente": contact.contact_person,
                "Telefono": contact.phone,
                "Email": contact.email,
                "Note": contact.note or None,
            }
            records.append(Rec(values, ("imprese", employer.vat, contact.when)))
        if fn == len(plan) - 1:
            base = records[0] if records else _fallback_company(world, first)
            insert_spread(
                records,
                [
                    planted(
                        base,
                        (
                            "Partita IVA",
                            ids.piva_with_wrong_check(
                                world.employers[2 % len(world.employers)].vat
                            ),
                            "piva_invalid",
                            ERR,
                        ),
                    ),
                    planted(base, ("Conosce L.193/2000", "forse", "yesno_invalid", ERR)),
                    planted(base, ("Disponibilità", "Forse", "vocabulary", ERR)),
                    planted(
                        base,
                        ("Forme disponibili", "Tirocinio, Stage", "vocabulary", ERR),
                        ("Disponibilità", "Sì", "", ""),
                    ),
                    planted(base, ("Data contatto", None, "missing", ERR)),
                    planted(base, ("Data contatto", "ieri", "date_invalid", ERR)),
                ],
                rng,
            )
            for rec in records:
                rec.problems = [p for p in rec.problems if p[1]]
        period_text = f"anno {label}" if "_" not in label else label.replace("_", " ")
        sheet = table(
            "Contatti",
            [(c, c) for c in IMPRESE_COLUMNS],
            records,
            "imprese",
            titles=[
                f"Rete imprese per l'inserimento lavorativo - contatti {period_text}",
                "",
            ],
            total="Totale contatti: {n}",
        )
        pivot = SheetSpec("Pivot", counted=False)
        pivot.add("title", ["Etichette di riga", "Conteggio di Ragione sociale"])
        pivot.add("title", ["Confartigianato", 2])
        yield FileSpec(
            "imprese",
            f"Rete_Imprese_contatti_{label}.xlsx",
            "xlsx",
            "Rete imprese",
            last,
            last + timedelta(days=20),
            [sheet, pivot],
        )
    last_last = plan[-1][1]
    yield FileSpec(
        "imprese",
        "Rete_Imprese_contatti_allegato.xlsx",
        "xlsx",
        "Rete imprese",
        None,
        last_last + timedelta(days=21),
        [],
        status="rejected",
        raw=b"PK\x03\x04" + bytes(range(256)) * 4,
        note="corrupt attachment: not a workbook",
    )


def _fallback_company(world: World, first: date) -> Rec:
    employer = world.employers[0]
    values: dict[str, Cell] = {
        "Partita IVA": employer.vat,
        "Data contatto": first,
        "Disponibilità": "No",
        "Conosce L.193/2000": "No",
    }
    return Rec(values, ("imprese", employer.vat, first))


FEED_BUILDERS = {
    "provincia_co": co_files,
    "provincia_tirocini": tirocini_files,
    "servizi_sociali": servizi_sociali_files,
    "cfp": cfp_files,
    "cooperative": cooperative_files,
    "sportello": sportello_files,
    "imprese": imprese_files,
}
