"""The synthetic world: persons, employers and the one consistent life each person lives.

Every partner file is a view of this world at a date, so the feeds agree with each
other the way real ones do: a worker in the CO extract has a case in a district, an
intern's host is an employer with the same P.IVA everywhere, a cooperative placement
shows up in the CO extract under the cooperative's P.IVA.
"""

from __future__ import annotations

import bisect
import random
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import ClassVar

from faker import Faker

from lavoro_debole.synthetic import identifiers as ids

DISTRICTS = ("Lodi", "Casalpusterlengo", "Sant'Angelo Lodigiano")
SENDERS_BY_DISTRICT = {
    "Lodi": ("UdP Lodi", "Comune di Lodi"),
    "Casalpusterlengo": ("UdP Casalpusterlengo",),
    "Sant'Angelo Lodigiano": ("UdP Sant'Angelo Lodigiano",),
}
COMUNI_BY_DISTRICT = {
    "Lodi": ("Lodi", "Lodi Vecchio", "Tavazzano con Villavesco", "Zelo Buon Persico", "Montanaso"),
    "Casalpusterlengo": ("Casalpusterlengo", "Codogno", "Castiglione d'Adda", "Somaglia"),
    "Sant'Angelo Lodigiano": ("Sant'Angelo Lodigiano", "Graffignana", "Borghetto Lodigiano"),
}
LEGAL_STATUSES = (
    "Detenuto",
    "Semilibero",
    "Affidamento in prova ai servizi sociali",
    "Detenzione domiciliare",
    "Libertà vigilata",
    "Messa alla prova",
    "Ex detenuto",
)
INSTITUTIONS = ("C.C. Lodi", "C.R. Milano Bollate", "C.C. Milano San Vittore", "C.R. Milano Opera")
CLOSURE_REASONS = ("Obiettivi raggiunti", "Abbandono", "Revoca misura", "Altro")
NEEDS = ("lavoro", "casa", "documenti", "salute", "famiglia", "formazione", "economico")

CONTRACTS = {
    "A.01.00": "A.01.00 - LAVORO A TEMPO INDETERMINATO",
    "A.02.00": "A.02.00 - LAVORO A TEMPO DETERMINATO",
    "A.02.01": "A.02.01 - LAVORO A TEMPO DETERMINATO PER SOSTITUZIONE",
    "A.03.08": "A.03.08 - APPRENDISTATO PROFESSIONALIZZANTE",
    "A.05.01": "A.05.01 - LAVORO INTERMITTENTE",
    "A.06.00": "A.06.00 - LAVORO IN SOMMINISTRAZIONE",
    "B.03.00": "B.03.00 - COLLABORAZIONE COORDINATA E CONTINUATIVA",
    "C.01.00": "C.01.00 - TIROCINIO",
}
OPEN_ENDED = ("A.01.00", "A.03.08")
WORKING_TIMES = (
    "Tempo Pieno",
    "Tempo Parziale Orizzontale",
    "Tempo Parziale Verticale",
    "Tempo Parziale Misto",
)
OCCUPATIONS = (
    "8.1.4.2.0 - Addetti alle pulizie",
    "8.1.3.1.0 - Personale addetto a compiti di controllo nei magazzini",
    "8.4.2.1.0 - Manovali edili",
    "6.4.1.3.2 - Giardinieri",
    "5.2.2.1.0 - Cuochi in alberghi e ristoranti",
    "7.2.7.9.0 - Assemblatori in serie di articoli vari",
)
INCENTIVES = ("L. 193/2000 (Smuraglia)", "L. 178/2020 (Esonero giovani under 36)")
TERMINATIONS = (
    "Dimissioni",
    "Licenziamento per giusta causa",
    "Licenziamento giustificato motivo",
    "Mancato superamento periodo di prova",
    "Altro",
)
ATECO = (
    ("56.10.11", "Ristorazione con somministrazione"),
    ("81.21.00", "Pulizia generale (non specializzata) di edifici"),
    ("81.30.00", "Cura e manutenzione del paesaggio"),
    ("43.34.00", "Tinteggiatura e posa in opera di vetri"),
    ("52.10.10", "Magazzini frigoriferi per conto terzi"),
    ("10.71.10", "Produzione di prodotti di panetteria freschi"),
    ("01.13.10", "Coltivazione di ortaggi in piena aria"),
    ("45.20.10", "Riparazioni meccaniche di autoveicoli"),
)
ASSOCIATIONS = (
    "Confartigianato",
    "Unione Artigiani",
    "Assolodi",
    "Coldiretti",
    "Confcommercio",
    "Nessuna",
)
LEGAL_FORMS = ("S.R.L.", "S.P.A.", "S.N.C.", "S.A.S.", "S.R.L.S.")
TRADES = ("TRASPORTI", "IMPIANTI", "COSTRUZIONI", "LOGISTICA", "PANIFICIO", "SERVIZI", "OFFICINA")

# Type-B social cooperatives: (name, P.IVA, sender). A fixed list so the steward's
# reference CSV can be built from it without running the generator.
SOCIAL_COOPERATIVES: tuple[tuple[str, str, str], ...] = (
    ("La Lanterna Cooperativa Sociale Onlus", "01397160985", "Consorzio Arca"),
    ("Ortobello Cooperativa Sociale Agricola", "02414470985", "Consorzio Arca"),
    ("Il Sentiero Società Cooperativa Sociale", "06285570989", "Consorzio Arca"),
    ("Il Mosaico Servizi Società Cooperativa Sociale Onlus", "13992480981", "Il Mosaico Servizi"),
    ("Il Girasole Cooperativa Sociale", "07516830986", "Il Girasole"),
    ("Officina del Riuso Cooperativa Sociale", "05138470983", None),
)


@dataclass
class Employer:
    name: str
    code: str  # what the CO extract shows: P.IVA, or the owner's CF for a sole trader
    vat: str  # the P.IVA (also for a sole trader, whose CO code is a CF)
    kind: str  # "impresa", "coop", "sole_trader"
    ateco: tuple[str, str]
    comune: str
    association: str
    employees: int
    sender: str | None = None  # cooperatives only: who sends its placements


@dataclass
class Case:
    district: str
    sender: str
    opened: date
    closed: date | None
    closure_reason: str
    legal_status: str
    institution: str
    sentence_end: date | None
    needs: list[str]
    social_worker: str
    note: str


@dataclass
class Event:
    comm_id: str
    kind: str
    event_date: date
    sent: date
    contract_code: str
    planned_end: date | None
    termination_reason: str = ""


@dataclass
class Relationship:
    employer: Employer
    start: date
    working_time: str
    hours: float
    occupation: str
    incentive: str
    events: list[Event] = field(default_factory=list)


@dataclass
class Internship:
    kind: str
    promoter: str
    host: Employer
    start: date
    planned_end: date
    actual_end: date | None  # None while running at ``until``
    final_outcome: str  # "Concluso", "Interrotto", "Assunto" (or "In corso")
    allowance: float
    note: str


@dataclass
class Course:
    code: str
    title: str
    area: str
    site: str
    kind: str
    start: date
    end: date
    hours: int
    funding: str


@dataclass
class Enrolment:
    course: Course
    enrolled: date
    final_outcome: str
    withdrawn: date | None
    attended: float


@dataclass
class Placement:
    coop: Employer
    hire: date
    end: date | None
    contract: str
    hours: float
    job: str
    disadvantaged: bool
    pay: float


@dataclass
class DeskContact:
    contact_id: int
    when: date
    time: str
    channel: str
    user_type: str
    person: Person | None
    birth_year: int | None
    sex: str
    nationality: str
    request: str
    referred: str
    operator: str
    note: str


@dataclass
class CompanyContact:
    employer: Employer
    when: date
    channel: str
    availability: str
    forms: list[str]
    knows_193: bool
    contact_person: str
    phone: str
    email: str
    note: str


@dataclass
class Person:
    idx: int
    cf: str
    surname: str
    name: str
    sex: str
    birthdate: date
    country: str
    citizenship: str
    residence: str
    phone: str
    cases: list[Case] = field(default_factory=list)
    relationships: list[Relationship] = field(default_factory=list)
    internships: list[Internship] = field(default_factory=list)
    enrolments: list[Enrolment] = field(default_factory=list)
    placements: list[Placement] = field(default_factory=list)


@dataclass
class World:
    start: date
    until: date
    persons: list[Person]
    employers: list[Employer]
    cooperatives: list[Employer]
    courses: list[Course]
    desk_contacts: list[DeskContact]
    company_contacts: list[CompanyContact]
    omocodic_pairs: list[tuple[int, int]]


def _day(rng: random.Random, first: date, last: date) -> date:
    if last <= first:
        return first
    return first + timedelta(days=rng.randrange((last - first).days + 1))


def _cp1252_safe(text: str) -> bool:
    try:
        text.encode("cp1252")
    except UnicodeEncodeError:
        return False
    return True


class _Names:
    """Faker it_IT names, restricted to what a Windows-1252 CSV can hold."""

    FOREIGN: ClassVar[dict[str, tuple[str, ...]]] = {
        "M": ("Mohamed", "Youssef", "Hamza", "Cosmin", "Andrei", "Ardit", "Karim", "Ahmed"),
        "F": ("Fatima", "Yasmine", "Ioana", "Elena", "Aisha", "Mariana", "Leila"),
    }
    FOREIGN_SURNAMES = (
        "Bennani",
        "El Amrani",
        "Ene",
        "Popescu",
        "Hoxha",
        "Trabelsi",
        "Okafor",
        "Diop",
        "Hassan",
        "Kovalenko",
        "Quispe",
        "Morales",
        "Khan",
        "Berrada",
        "Dumitru",
    )

    def __init__(self, seed: int) -> None:
        self.fake = Faker("it_IT")
        self.fake.seed_instance(seed)

    def _pick(self, make) -> str:  # type: ignore[no-untyped-def]
        while True:
            value = make()
            if _cp1252_safe(value) and any(ch.isalpha() for ch in value):
                return value

    def surname(self) -> str:
        return self._pick(self.fake.last_name)

    def first(self, sex: str) -> str:
        return self._pick(self.fake.first_name_male if sex == "M" else self.fake.first_name_female)

    def full(self) -> str:
        return f"{self.first('F' if self.fake.random.random() < 0.6 else 'M')} {self.surname()}"


def _make_employers(rng: random.Random, names: _Names, count: int) -> list[Employer]:
    employers: list[Employer] = []
    used: set[str] = set()
    all_comuni = [c for cs in COMUNI_BY_DISTRICT.values() for c in cs]
    for i in range(count):
        ateco = ATECO[rng.randrange(len(ATECO))]
        comune = rng.choice([*all_comuni, "Milano", "Melegnano"])
        association = rng.choice(ASSOCIATIONS)
        employees = rng.choice((2, 4, 7, 12, 25, 48, 90, 300))
        vat = ids.make_piva(rng)
        while vat in used:
            vat = ids.make_piva(rng)
        used.add(vat)
        if i % 7 == 3:  # a sole trader: the CO extract names them by their own CF
            sex = "M" if rng.random() < 0.7 else "F"
            surname, first = names.surname(), names.first(sex)
            birth = _day(rng, date(1955, 1, 1), date(1990, 12, 31))
            cf = ids.make_cf(surname, first, sex, birth, rng.choice(ids.ITALIAN_BIRTHPLACES)[1])
            name = f"{rng.choice(('OSTERIA', 'BAR', 'IMPRESA EDILE', 'GIARDINI'))} DI "
            name += f"{surname} {first}".upper()
            employers.append(
                Employer(name, cf, vat, "sole_trader", ateco, comune, association, employees)
            )
        else:
            name = f"{rng.choice(TRADES)} {names.surname().upper()} {rng.choice(LEGAL_FORMS)}"
            employers.append(
                Employer(name, vat, vat, "impresa", ateco, comune, association, employees)
            )
    return employers


def _cooperatives(rng: random.Random) -> list[Employer]:
    coops = []
    for name, vat, sender in SOCIAL_COOPERATIVES:
        ateco = rng.choice(ATECO[1:3])
        coops.append(Employer(name.upper(), vat, vat, "coop", ateco, "Lodi", "Nessuna", 40, sender))
    return coops


class _Ids:
    """Running numbers for notification and contact ids."""

    def __init__(self) -> None:
        self.comm = 0
        self.contact = 1000

    def comm_id(self, sent: date) -> str:
        self.comm += 1
        return f"1609822{sent.year % 100:02d}{self.comm:07d}"


def _relationship(
    rng: random.Random,
    counter: _Ids,
    employer: Employer,
    start: date,
    until: date,
    code: str,
) -> Relationship:
    """A CO relationship with its events as the Province would have notified them by ``until``."""
    rel = Relationship(
        employer=employer,
        start=start,
        working_time=rng.choice(WORKING_TIMES),
        hours=rng.choice((20.0, 24.0, 30.0, 32.5, 38.0, 40.0)),
        occupation=rng.choice(OCCUPATIONS),
        incentive=rng.choice(INCENTIVES) if rng.random() < 0.25 and code != "C.01.00" else "",
    )
    if rel.working_time == "Tempo Pieno":
        rel.hours = 40.0
    planned: date | None = None
    if code not in OPEN_ENDED:
        planned = start + timedelta(days=rng.choice((89, 182, 364)))
    sent = start - timedelta(days=rng.randrange(0, 3))
    if sent > until:
        return rel
    rel.events.append(Event(counter.comm_id(sent), "Assunzione", start, sent, code, planned))
    current_code, current_end = code, planned
    if code in ("A.02.00", "A.02.01") and planned is not None:
        roll = rng.random()
        if roll < 0.3:
            when = planned - timedelta(days=rng.randrange(3, 20))
            new_end = planned + timedelta(days=rng.choice((91, 182)))
            if when <= until:
                rel.events.append(
                    Event(counter.comm_id(when), "Proroga", when, when, code, new_end)
                )
                current_end = new_end
        elif roll < 0.45:
            when = planned - timedelta(days=rng.randrange(3, 30))
            if when <= until:
                rel.events.append(
                    Event(counter.comm_id(when), "Trasformazione", when, when, "A.01.00", None)
                )
                current_code, current_end = "A.01.00", None
    roll = rng.random()
    end: date | None = None
    reason = ""
    if current_end is None and roll < 0.3:
        end = start + timedelta(days=rng.randrange(20, 700))
        reason = rng.choice(TERMINATIONS)
    elif current_end is not None and roll < 0.2:
        earliest = max(start + timedelta(days=5), rel.events[-1].event_date + timedelta(days=1))
        end = _day(rng, earliest, current_end - timedelta(days=1))
        reason = rng.choice(TERMINATIONS)
    elif current_end is not None and roll < 0.5 and code != "C.01.00":
        end, reason = current_end, "Fine contratto a termine"
    if end is not None:
        sent = end + timedelta(days=rng.randrange(0, 5))
        if sent <= until:
            rel.events.append(
                Event(
                    counter.comm_id(sent),
                    "Cessazione",
                    end,
                    sent,
                    current_code,
                    current_end,
                    reason,
                )
            )
    return rel


def build_world(persons: int, seed: int, start: date, until: date) -> World:
    """Draw the population and every life in it, deterministically for ``seed``."""
    rng = random.Random(seed)
    names = _Names(seed)
    counter = _Ids()
    employers = _make_employers(rng, names, max(24, persons // 3))
    coops = _cooperatives(rng)
    hosts = [e for e in employers if e.kind == "impresa"] + coops
    courses = _make_courses(rng, start, until, max(6, persons // 8))

    people: list[Person] = []
    seen_cf: set[str] = set()
    omocodic_pairs: list[tuple[int, int]] = []
    omocodic_every = max(20, persons // 200)
    for idx in range(persons):
        twin_of = people[idx - 1] if idx % omocodic_every == omocodic_every - 1 else None
        person = _make_person(rng, names, idx, twin_of)
        level = 1
        cf = person.cf
        while cf in seen_cf:  # two persons with one base CF: the later one gets omocodia
            cf = ids.omocodic_variant(person.cf, level)
            level += 1
        if cf != person.cf:
            person.cf = cf
            if twin_of is not None:
                omocodic_pairs.append((twin_of.idx, idx))
        seen_cf.add(cf)
        _live(rng, names, counter, person, start, until, employers, hosts, coops, courses)
        people.append(person)

    desk = _desk_contacts(rng, names, counter, people, start, until)
    company = _company_contacts(rng, names, people, employers + coops, start, until)
    return World(start, until, people, employers, coops, courses, desk, company, omocodic_pairs)


def _make_person(rng: random.Random, names: _Names, idx: int, twin_of: Person | None) -> Person:
    if twin_of is not None:  # same name, date and place: an omocodia case
        src = twin_of
        person = Person(
            idx,
            src.cf,
            src.surname,
            src.name,
            src.sex,
            src.birthdate,
            src.country,
            src.citizenship,
            src.residence,
            f"3{rng.randrange(10, 99)} {rng.randrange(100, 999)} {rng.randrange(1000, 9999)}",
        )
        return person
    sex = "M" if rng.random() < 0.88 else "F"
    birth = _day(rng, date(1960, 1, 1), date(2004, 12, 31))
    if rng.random() < 0.35:
        country, code, citizenship, nationality = rng.choice(ids.FOREIGN_BIRTHPLACES)
        surname = rng.choice(_Names.FOREIGN_SURNAMES)
        first = rng.choice(_Names.FOREIGN[sex])
        country = nationality
    else:
        _, code = rng.choice(ids.ITALIAN_BIRTHPLACES)
        surname, first = names.surname(), names.first(sex)
        citizenship, country = "Italiana", "Italia"
    district = rng.choice(DISTRICTS)
    residence = rng.choice(COMUNI_BY_DISTRICT[district])
    if rng.random() < 0.05:
        residence = "Senza fissa dimora"
    cf = ids.make_cf(surname, first, sex, birth, code)
    phone = f"3{rng.randrange(10, 99)} {rng.randrange(100, 999)} {rng.randrange(1000, 9999)}"
    return Person(idx, cf, surname, first, sex, birth, country, citizenship, residence, phone)


def _district_of(person: Person, rng: random.Random) -> str:
    for district, comuni in COMUNI_BY_DISTRICT.items():
        if person.residence in comuni:
            return district
    return rng.choice(DISTRICTS)


def _sender(district: str, residence: str) -> str:
    if district == "Lodi" and residence == "Lodi":
        return "Comune di Lodi"
    return SENDERS_BY_DISTRICT[district][0]


def _new_case(
    rng: random.Random, names: _Names, district: str, residence: str, opened: date
) -> Case:
    status = rng.choice(LEGAL_STATUSES)
    institution = rng.choice(INSTITUTIONS) if status in ("Detenuto", "Semilibero") else ""
    sentence_end = None
    if status != "Ex detenuto" and rng.random() < 0.8:
        sentence_end = opened + timedelta(days=rng.randrange(120, 1500))
    needs = ["lavoro"] if rng.random() < 0.85 else []
    needs += rng.sample(NEEDS[1:], rng.randrange(0, 3))
    if not needs:
        needs = ["casa"]
    note = rng.choice(("", "", "segnalato da UEPE Milano", "referente familiare: la madre"))
    return Case(
        district,
        _sender(district, residence),
        opened,
        None,
        "",
        status,
        institution,
        sentence_end,
        needs,
        names.full(),
        note,
    )


def _live(
    rng: random.Random,
    names: _Names,
    counter: _Ids,
    person: Person,
    start: date,
    until: date,
    employers: list[Employer],
    hosts: list[Employer],
    coops: list[Employer],
    courses: list[Course],
) -> None:
    """One life: cases, then training, internships, jobs and placements after the first case."""
    district = _district_of(person, rng)
    opened = _day(rng, start - timedelta(days=540), until - timedelta(days=30))
    case = _new_case(rng, names, district, person.residence, opened)
    person.cases.append(case)
    roll = rng.random()
    if roll < 0.35:
        closed = opened + timedelta(days=rng.randrange(60, 900))
        if closed <= until:
            case.closed = closed
            case.closure_reason = rng.choice(CLOSURE_REASONS)
            if roll < 0.12:  # closed and reopened later in the same district
                reopened = closed + timedelta(days=rng.randrange(30, 300))
                if reopened <= until:
                    person.cases.append(_new_case(rng, names, district, person.residence, reopened))
            elif roll < 0.2:  # moved to another district
                case.closure_reason = "Trasferimento"
                other = rng.choice([d for d in DISTRICTS if d != district])
                reopened = closed + timedelta(days=rng.randrange(1, 20))
                if reopened <= until:
                    residence = rng.choice(COMUNI_BY_DISTRICT[other])
                    person.cases.append(_new_case(rng, names, other, residence, reopened))
    active_from = max(opened, start)
    if active_from >= until - timedelta(days=10):
        return
    if rng.random() < 0.3:
        # courses are sorted by start: those starting on or after active_from are a suffix
        first = bisect.bisect_left(courses, active_from, key=lambda c: c.start)
        if first < len(courses):
            course = courses[rng.randrange(first, len(courses))]
            enrolled = max(start, course.start - timedelta(days=rng.randrange(0, 20)))
            outcome = rng.choices(
                ("Qualificato", "Attestato di frequenza", "Ritirato", "Non ammesso all'esame"),
                (5, 3, 2, 1),
            )[0]
            if course.kind != "Qualifica IeFP" and outcome == "Qualificato":
                outcome = "Attestato di frequenza"
            withdrawn = None
            attended = float(course.hours) - rng.randrange(0, 10)
            if outcome == "Ritirato":
                withdrawn = _day(rng, course.start + timedelta(days=1), course.end)
                attended = round(course.hours * rng.uniform(0.1, 0.6) * 2) / 2
            person.enrolments.append(Enrolment(course, enrolled, outcome, withdrawn, attended))
    if rng.random() < 0.3:
        _internship(rng, counter, person, active_from, until, hosts)
    if rng.random() < 0.45:
        for _ in range(rng.choice((1, 1, 2))):
            hire = _day(rng, active_from, until - timedelta(days=5))
            employer = rng.choice(employers + coops[:2])
            code = rng.choices(list(CONTRACTS)[:7], (3, 6, 1, 1, 1, 1, 1))[0]
            rel = _relationship(rng, counter, employer, hire, until, code)
            if rel.events:
                person.relationships.append(rel)
    if rng.random() < 0.22:
        coop = rng.choice([c for c in coops if c.sender])
        hire = _day(rng, active_from, until - timedelta(days=5))
        contract = rng.choice(("Indeterminato", "Determinato", "Socio lavoratore", "Tirocinio"))
        end = None
        if rng.random() < 0.4:
            end = hire + timedelta(days=rng.randrange(60, 500))
            end = end if end <= until else None
        hours = rng.choice((18.0, 20.0, 25.0, 30.0, 36.0))
        pay = round(hours * rng.uniform(30, 42), 2)
        placement = Placement(
            coop, hire, end, contract, hours, rng.choice(COOP_JOBS), rng.random() < 0.85, pay
        )
        person.placements.append(placement)
        code = {"Indeterminato": "A.01.00", "Determinato": "A.02.00"}.get(contract)
        if contract == "Socio lavoratore":
            code = "A.01.00"
        if code is not None:
            rel = _relationship(rng, counter, coop, hire, until, code)
            if rel.events:
                person.relationships.append(rel)


COOP_JOBS = (
    "Pulizie",
    "Manutenzione del verde",
    "Assemblaggio",
    "Ristorazione",
    "Logistica",
    "Raccolta differenziata",
)


def _internship(
    rng: random.Random,
    counter: _Ids,
    person: Person,
    active_from: date,
    until: date,
    hosts: list[Employer],
) -> None:
    host = rng.choice(hosts)
    kind = rng.choices(
        ("Tirocinio extracurricolare", "Tirocinio di inclusione", "Borsa lavoro"), (4, 3, 2)
    )[0]
    begin = _day(rng, active_from, until - timedelta(days=5))
    planned_end = begin + timedelta(days=rng.choice((90, 181, 364)))
    roll = rng.random()
    outcome = "Concluso" if roll < 0.55 else ("Interrotto" if roll < 0.75 else "Assunto")
    actual_end: date | None = planned_end
    if outcome == "Interrotto":
        actual_end = _day(rng, begin + timedelta(days=7), planned_end - timedelta(days=1))
    if actual_end is not None and actual_end > until:
        actual_end, outcome = None, "In corso"
    allowance = float(rng.choice((400, 450, 500, 600)))
    note = rng.choice(("", "", "tutor aziendale: sig. Rossi", "contatto 0371 431250"))
    promoter = rng.choice(("Provincia di Lodi - CPI", "CFP Consortile", "Consorzio Arca"))
    person.internships.append(
        Internship(kind, promoter, host, begin, planned_end, actual_end, outcome, allowance, note)
    )
    if kind != "Borsa lavoro":  # an internship is also notified as C.01.00
        rel = _relationship(rng, counter, host, begin, until, "C.01.00")
        if rel.events:
            person.relationships.append(rel)
    if outcome == "Assunto" and actual_end is not None:
        hire = actual_end + timedelta(days=rng.randrange(1, 60))
        if hire <= until:
            code = rng.choice(("A.01.00", "A.02.00", "A.03.08"))
            rel = _relationship(rng, counter, host, hire, until, code)
            if rel.events:
                person.relationships.append(rel)


COURSE_AREAS = (
    ("RIST", "Ristorazione", "Aiuto cuoco"),
    ("EDIL", "Edilizia", "Operatore edile"),
    ("MECC", "Meccanica", "Operatore meccanico"),
    ("LOG", "Logistica", "Magazziniere e carrellista"),
    ("PUL", "Pulizie e sanificazione", "Addetto alle pulizie professionali"),
    ("VERD", "Manutenzione del verde", "Giardiniere"),
    ("INF", "Informatica di base", "Competenze digitali di base"),
    ("SIC", "Sicurezza", "Formazione generale sicurezza"),
)


def _make_courses(rng: random.Random, start: date, until: date, count: int) -> list[Course]:
    courses: list[Course] = []
    per_code: dict[tuple[str, int], int] = {}
    for _ in range(count):
        prefix, area, title = rng.choice(COURSE_AREAS)
        begin = _day(rng, start, until - timedelta(days=30))
        kind = rng.choices(("Qualifica IeFP", "Corso breve", "Sicurezza sul lavoro", "HACCP"))[0]
        if prefix == "SIC":
            kind = "Sicurezza sul lavoro"
        length = {"Qualifica IeFP": 300, "Corso breve": 90, "Sicurezza sul lavoro": 20}.get(
            kind, 40
        )
        end = begin + timedelta(days=length // 2 if length > 40 else 10)
        number = per_code.get((prefix, begin.year), 0) + 1
        per_code[(prefix, begin.year)] = number
        site = rng.choice(("Lodi", "Codogno", "Casalpusterlengo", "C.C. Lodi (intramurario)"))
        funding = rng.choice(("Dote Unica Lavoro", "FSE", "Cassa delle Ammende", "Fondi propri"))
        code = f"{prefix}-{begin.year}-{number:02d}"
        courses.append(Course(code, title, area, site, kind, begin, end, length, funding))
    courses.sort(key=lambda c: (c.start, c.code))
    return courses


DESK_OPERATORS = ("don Ernesto Vitali", "Rosanna Maggi", "Carlo Bertoni", "Suor Agnese Tosi")
DESK_REQUESTS = ("Lavoro", "Casa", "Documenti", "Legale", "Famiglia", "Economica", "Formazione")
DESK_REFERRALS = (
    "Centro per l'Impiego",
    "CFP",
    "Servizi sociali",
    "Cooperativa",
    "Caritas",
    "SerD",
    "Nessuno",
    "",
)
DESK_CHANNELS = ("Di persona", "Telefono", "Email", "Colloquio in istituto")


def _desk_contacts(
    rng: random.Random,
    names: _Names,
    counter: _Ids,
    people: list[Person],
    start: date,
    until: date,
) -> list[DeskContact]:
    contacts: list[DeskContact] = []
    for person in people:
        if rng.random() >= 0.45:
            continue
        first_case = min(c.opened for c in person.cases)
        for _ in range(rng.choice((1, 1, 2, 3))):
            when = _day(rng, max(start, first_case - timedelta(days=60)), until)
            user = (
                "Detenuto"
                if person.cases[0].legal_status == "Detenuto"
                else rng.choice(("Ex detenuto", "In misura alternativa"))
            )
            contacts.append(_desk(rng, when, user, person, person.country))
    for _ in range(max(10, int(len(people) * 0.6))):
        when = _day(rng, start, until)
        user = rng.choice(("Familiare", "Familiare", "Altro", "Ex detenuto"))
        contacts.append(_desk(rng, when, user, None, rng.choice(("Italia", "Marocco", "Romania"))))
    month = date(start.year, start.month, 1)
    while month <= until:  # the desk never has an empty month: a relative always calls
        last_day = (month.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)
        when = _day(rng, max(month, start), min(last_day, until))
        contacts.append(_desk(rng, when, "Familiare", None, "Italia"))
        month = last_day + timedelta(days=1)
    contacts.sort(key=lambda c: (c.when, c.time))
    for i, contact in enumerate(contacts):
        contact.contact_id = counter.contact + i
    return contacts


def _desk(
    rng: random.Random, when: date, user: str, person: Person | None, nationality: str
) -> DeskContact:
    time = f"{rng.randrange(9, 18):02d}:{rng.choice((0, 15, 30, 45)):02d}"
    note = rng.choice(("", "", "", "lasciato recapito 0371 431250", "parlato con la madre"))
    sex = person.sex if person else rng.choice(("M", "F"))
    birth_year = person.birthdate.year if person else None
    channel = rng.choice(DESK_CHANNELS)
    return DeskContact(
        0,
        when,
        time,
        channel,
        user,
        person,
        birth_year,
        sex,
        nationality,
        rng.choice(DESK_REQUESTS),
        rng.choice(DESK_REFERRALS),
        rng.choice(DESK_OPERATORS),
        note,
    )


def _company_contacts(
    rng: random.Random,
    names: _Names,
    people: list[Person],
    employers: list[Employer],
    start: date,
    until: date,
) -> list[CompanyContact]:
    """The employers' network contacts companies; hosts and employers get contacted more."""
    involved: dict[str, float] = {}
    for person in people:
        for rel in person.relationships:
            involved[rel.employer.vat] = 0.8
        for internship in person.internships:
            involved[internship.host.vat] = 0.8
    contacts: list[CompanyContact] = []
    for employer in employers:
        if rng.random() >= involved.get(employer.vat, 0.4):
            continue
        referent = names.full()
        for _ in range(rng.choice((1, 1, 2, 3))):
            when = _day(rng, start, until)
            availability = rng.choices(("Sì", "No", "Da valutare"), (5, 3, 2))[0]
            forms: list[str] = []
            if availability == "Sì":
                forms = sorted(
                    rng.sample(("Tirocinio", "Assunzione", "Borsa lavoro"), rng.randrange(1, 3))
                )
            email = f"info@{employer.vat}.example.it"
            contacts.append(
                CompanyContact(
                    employer,
                    when,
                    rng.choice(("Visita", "Telefono", "Evento", "Email")),
                    availability,
                    forms,
                    rng.random() < 0.4,
                    referent,
                    f"0371 {rng.randrange(100000, 999999)}",
                    email,
                    rng.choice(("", "", "richiamare a settembre", "parlato con il titolare")),
                )
            )
    contacts.sort(key=lambda c: (c.when, c.employer.vat))
    return contacts
