"""Funder profiles: which indicators, breakdowns and periods each funder receives.

A profile is one YAML file in ``profiles/`` (format in ``profiles/README.md``); a
steward adds a funder by adding a file. Loading validates every field and names the
file and the field in its error, so a typo fails the export before anything is sent.
"""

from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass
from pathlib import Path

import yaml

from lavoro_debole.exports.catalogue import BREAKDOWN_LABELS, INDICATORS, TOTAL
from lavoro_debole.exports.disclosure import DEFAULT_K, MIN_K
from lavoro_debole.exports.headline import headline_indicators
from lavoro_debole.exports.targets import Baseline, Target, TargetError, parse_targets
from lavoro_debole.periods import Quarter
from lavoro_debole.settings import PROJECT_ROOT

PROFILES_DIR = PROJECT_ROOT / "profiles"
PERIOD_OPTIONS = ("quarter", "year_to_date", "previous_four_quarters")
FIELDS = (
    "name",
    "title",
    "recipients",
    "indicators",
    "breakdowns",
    "periods",
    "k",
    "in_evidenza",
    "obiettivi",
    "baseline",
)
_EMAIL = re.compile(
    r"^[^@\s<>,;\"']+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9-]+)+$"
)
_NAME = re.compile(r"^[a-z0-9][a-z0-9_]*$")
PUBLISHED_INDICATORS = tuple(i for i in INDICATORS if not i.startswith("Q"))


class ProfileError(ValueError):
    """A profile file is wrong; the message names the file and the field."""


@dataclass(frozen=True)
class FunderProfile:
    """One funder's validated choices."""

    name: str
    title: str
    recipients: tuple[str, ...]
    indicators: tuple[str, ...]
    breakdowns: tuple[str, ...]  # breakdown ids shown beside the totals
    periods: tuple[str, ...]  # options from PERIOD_OPTIONS
    k: int = DEFAULT_K
    source: Path | None = None
    #: the cover's headline indicators (``in_evidenza:``, else the default list), all
    #: of them received by the profile
    headline: tuple[str, ...] = ()
    targets: tuple[Target, ...] = ()  # ``obiettivi:``
    baselines: tuple[Baseline, ...] = ()  # ``baseline:``

    def period_columns(self, quarter: str) -> list[str]:
        """The periods shown for a reporting quarter, in time order (years after their
        quarters)."""
        return resolve_periods(self.periods, quarter)


def parse_quarter(quarter: str) -> tuple[int, int]:
    """``'2024-Q3'`` -> ``(2024, 3)``, else a clear error."""
    try:
        parsed = Quarter.parse(quarter)
    except ValueError:
        raise ProfileError(f"quarter {quarter!r} must be written like 2024-Q3") from None
    return parsed.year, parsed.q


def resolve_periods(options: tuple[str, ...] | list[str], quarter: str) -> list[str]:
    """Turn period options into period labels of ``marts.indicator_values``.

    ``quarter``: the reporting quarter. ``year_to_date``: the quarters of its year up
    to it, and the year itself once the year is complete (Q4) -- the mart's year row
    covers the whole calendar year, so it is not shown before. ``previous_four_quarters``:
    the four quarters ending with it.
    """
    year, q = parse_quarter(quarter)
    reporting = Quarter(year, q)
    periods: set[tuple[int, int]] = set()  # (year, quarter); quarter 5 = the year
    for option in options:
        if option == "quarter":
            periods.add((year, q))
        elif option == "year_to_date":
            periods.update((p.year, p.q) for p in Quarter.range(Quarter(year, 1), reporting))
            if q == 4:
                periods.add((year, 5))
        elif option == "previous_four_quarters":
            first = reporting.previous().previous().previous()
            periods.update((p.year, p.q) for p in Quarter.range(first, reporting))
        else:
            raise ProfileError(f"unknown period option {option!r}")
    return [str(Quarter(y, i)) if i < 5 else str(y) for y, i in sorted(periods)]


def _fail(source: str, field: str, why: str) -> ProfileError:
    return ProfileError(f"{source}: field '{field}': {why}")


def _string_list(data: dict, field: str, source: str) -> list[str]:
    value = data.get(field)
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not value:
        raise _fail(source, field, "must be a non-empty list (or 'all')")
    if not all(isinstance(v, str) and v.strip() for v in value):
        raise _fail(source, field, "every entry must be a non-empty text")
    return [v.strip() for v in value]


def profile_from_dict(data: object, source: str = "<profile>") -> FunderProfile:
    """Validate a parsed profile; ``source`` names it in errors."""
    if not isinstance(data, dict):
        raise ProfileError(f"{source}: a profile must be a mapping of fields {list(FIELDS)}")
    unknown = sorted(str(k) for k in data if k not in FIELDS)
    if unknown:
        raise _fail(source, unknown[0], f"unknown field (expected one of {list(FIELDS)})")
    for field in ("name", "title", "recipients", "indicators", "periods"):
        if field not in data:
            raise _fail(source, field, "is required")

    name = data["name"]
    if not isinstance(name, str) or not _NAME.match(name):
        raise _fail(source, "name", "must be lower-case letters, digits and _ (e.g. cassa_ammende)")
    stem = Path(source).stem
    if source.endswith((".yaml", ".yml")) and stem != name:
        raise _fail(source, "name", f"must equal the file name ({stem!r})")

    title = data["title"]
    if not isinstance(title, str) or not title.strip():
        raise _fail(source, "title", "must be a non-empty text (printed on the cover)")

    recipients = _string_list(data, "recipients", source)
    for i, address in enumerate(recipients, start=1):
        if not _EMAIL.match(address):
            raise _fail(source, "recipients", f"entry {i} is not an e-mail address")
    if len(set(a.lower() for a in recipients)) != len(recipients):
        raise _fail(source, "recipients", "lists the same address twice")

    wanted = _string_list(data, "indicators", source)
    indicators: list[str] = []
    for pattern in wanted:
        if pattern == "all":
            matched = list(PUBLISHED_INDICATORS)
        else:
            matched = [i for i in PUBLISHED_INDICATORS if fnmatch.fnmatchcase(i, pattern)]
        if not matched:
            raise _fail(source, "indicators", f"{pattern!r} matches no indicator (A1 … F4)")
        indicators += [i for i in matched if i not in indicators]
    indicators.sort(key=list(PUBLISHED_INDICATORS).index)

    raw_bd = data.get("breakdowns", "all")
    if raw_bd == "all" or raw_bd == ["all"]:
        breakdowns = sorted({b for i in indicators for b in INDICATORS[i].breakdowns})
    elif raw_bd in (None, [], "none"):
        breakdowns = []
    else:
        breakdowns = _string_list(data, "breakdowns", source)
        known = set(BREAKDOWN_LABELS) - {TOTAL}
        for b in breakdowns:
            if b not in known:
                raise _fail(source, "breakdowns", f"{b!r} is not a breakdown id ({sorted(known)})")

    periods = _string_list(data, "periods", source)
    for p in periods:
        if p not in PERIOD_OPTIONS:
            raise _fail(source, "periods", f"{p!r} is not one of {list(PERIOD_OPTIONS)}")

    k = data.get("k", DEFAULT_K)
    if isinstance(k, bool) or not isinstance(k, int):
        raise _fail(source, "k", f"must be a whole number of at least {MIN_K}")
    if k < MIN_K:
        raise _fail(source, "k", f"is {k}: the threshold may be raised but never set below {MIN_K}")

    raw_head = data.get("in_evidenza")
    if raw_head is None:
        headline = headline_indicators(indicators, None)
    else:
        if isinstance(raw_head, str):
            raw_head = [raw_head]
        if not isinstance(raw_head, list) or not all(isinstance(v, str) for v in raw_head):
            raise ProfileError(
                f"{source}: campo 'in_evidenza': deve essere un elenco di codici (ad esempio "
                "[A1, D3])"
            )
        headline = []
        for i, ind in enumerate((v.strip() for v in raw_head), start=1):
            if ind not in PUBLISHED_INDICATORS:
                raise ProfileError(
                    f"{source}: campo 'in_evidenza': voce {i}: indicatore '{ind}' sconosciuto "
                    "(codici da A1 a F4)"
                )
            if ind not in indicators:
                raise ProfileError(
                    f"{source}: campo 'in_evidenza': voce {i}: l'indicatore {ind} non è tra "
                    "quelli che il profilo riceve"
                )
            if ind not in headline:
                headline.append(ind)
    try:
        targets, baselines = parse_targets(
            data.get("obiettivi"), data.get("baseline"), source, indicators
        )
    except TargetError as exc:
        raise ProfileError(str(exc)) from None

    return FunderProfile(
        name=name,
        title=title.strip(),
        recipients=tuple(recipients),
        indicators=tuple(indicators),
        breakdowns=tuple(breakdowns),
        periods=tuple(dict.fromkeys(periods)),
        k=k,
        source=Path(source) if source.endswith((".yaml", ".yml")) else None,
        headline=tuple(headline),
        targets=targets,
        baselines=baselines,
    )


def load_profile(path: str | Path) -> FunderProfile:
    """Read and validate one profile file."""
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark is not None else ""
        raise ProfileError(f"{path}: not valid YAML{where}") from None
    return profile_from_dict(data, str(path))


def load_profiles(directory: str | Path = PROFILES_DIR) -> dict[str, FunderProfile]:
    """Every ``*.yaml`` profile of a directory, by name (the Dagster assets' partitions)."""
    directory = Path(directory)
    profiles: dict[str, FunderProfile] = {}
    for path in sorted([*directory.glob("*.yaml"), *directory.glob("*.yml")]):
        profile = load_profile(path)
        if profile.name in profiles:
            raise ProfileError(f"{path}: field 'name': {profile.name!r} is used by another file")
        profiles[profile.name] = profile
    return profiles
