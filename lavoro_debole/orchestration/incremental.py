"""Which dbt models a run must build: pure functions over the manifest, no Dagster.

The dbt step records, after a successful build, one digest per dbt source (the raw
tables, the reference lists, ``ops.ingest_files``) and one ``base`` digest of everything
else a model depends on (the dbt project's files, the cut-off date, the code and library
versions). The next run compares:

- nothing recorded, the base changed, a source appeared or disappeared, a model's table
  missing from the warehouse, or a whole rebuild asked for: everything (``full``);
- no source changed: nothing;
- some sources changed: exactly ``source:<changed>+`` (the models downstream of them,
  their tests and unit tests), the rest stays as built, since its inputs are unchanged.

dagster-dbt always passes its own ``--select fqn:*`` and dbt unites repeated
``--select``s, so the selection is given to dbt as an ``--exclude`` of the models and
seeds *not* downstream, with ``--indirect-selection cautious`` (a test is left out only
when all its parents are): that is the same set of nodes as ``--select source:X+``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

BASE = "base"
"""The key of the recorded digest of everything but the sources."""
BUILDABLE = ("model", "seed")


@dataclass(frozen=True)
class DbtSelection:
    """What the dbt step does this run."""

    full: bool
    reason: str
    changed_sources: tuple[str, ...] = ()
    """``source_name.table`` of the sources whose contents changed."""
    build: frozenset[str] = field(default_factory=frozenset)
    """unique ids of the models and seeds to build (all of them when ``full``)."""
    exclude: tuple[str, ...] = ()
    """dbt ``--exclude`` selectors (``fqn:...``) of the models and seeds left as they are."""

    @property
    def nothing(self) -> bool:
        return not self.full and not self.build

    def selectors(self) -> list[str]:
        """The same selection as dbt would write it (for the log)."""
        return [f"source:{name}+" for name in self.changed_sources]

    def dbt_args(self) -> list[str]:
        """Arguments to add to ``dbt build``."""
        if self.full or not self.exclude:
            return []
        return ["--exclude", " ".join(self.exclude), "--indirect-selection", "cautious"]


def source_tables(manifest: Mapping[str, Any]) -> dict[str, str]:
    """``source_name.table`` → ``schema.identifier`` of every dbt source."""
    return {
        f"{s['source_name']}.{s['name']}": f"{s['schema']}.{s.get('identifier') or s['name']}"
        for s in manifest["sources"].values()
    }


def model_relations(manifest: Mapping[str, Any]) -> dict[str, str]:
    """unique id → ``schema.alias`` of every model and seed (the tables dbt writes)."""
    return {
        uid: f"{node['schema']}.{node.get('alias') or node['name']}"
        for uid, node in manifest["nodes"].items()
        if node["resource_type"] in BUILDABLE
    }


def descendants(manifest: Mapping[str, Any], roots: Iterable[str]) -> set[str]:
    children = manifest["child_map"]
    seen: set[str] = set()
    stack = list(roots)
    while stack:
        for child in children.get(stack.pop(), []):
            if child not in seen:
                seen.add(child)
                stack.append(child)
    return seen


def changed_sources(
    recorded: Mapping[str, object] | None, current: Mapping[str, object]
) -> tuple[set[str] | None, str]:
    """The sources whose digest changed, or None (with the reason) for a whole rebuild."""
    if recorded is None:
        return None, "prima costruzione"
    if recorded.get(BASE) != current.get(BASE):
        return None, "progetto dbt, data di taglio o codice cambiati"
    if set(recorded) != set(current):
        return None, "fonti dei modelli cambiate"
    if any(current[name] is None for name in current if name != BASE):
        return None, "una fonte manca nel magazzino"
    return {name for name in current if name != BASE and recorded[name] != current[name]}, ""


def dbt_selection(
    manifest: Mapping[str, Any],
    recorded: Mapping[str, object] | None,
    current: Mapping[str, object],
    *,
    existing: set[str] | None = None,
    full: bool = False,
) -> DbtSelection:
    """What to build, from what was last built (``recorded``) and the digests now.

    ``current`` holds :data:`BASE` and one digest per source (keys as in
    :func:`source_tables`); ``existing`` the warehouse's tables (``schema.name``): a model
    whose table is missing means a whole rebuild, as does ``full``.
    """
    relations = model_relations(manifest)
    everything = frozenset(relations)
    if full:
        return DbtSelection(True, "ricostruzione completa richiesta", build=everything)
    changed, reason = changed_sources(recorded, current)
    if changed is None:
        return DbtSelection(True, reason, build=everything)
    if existing is not None and not set(relations.values()) <= existing:
        return DbtSelection(True, "tabelle dei modelli mancanti nel magazzino", build=everything)
    if not changed:
        return DbtSelection(False, "invariato: nessun file nuovo")
    ids = {
        uid: name
        for name in changed
        for uid, s in manifest["sources"].items()
        if f"{s['source_name']}.{s['name']}" == name
    }
    build = frozenset(descendants(manifest, ids) & everything)
    exclude = tuple(
        "fqn:" + ".".join(manifest["nodes"][uid]["fqn"]) for uid in sorted(everything - build)
    )
    return DbtSelection(
        False,
        "fonti cambiate: " + ", ".join(sorted(changed)),
        changed_sources=tuple(sorted(changed)),
        build=build,
        exclude=exclude,
    )


def in_build_order(manifest: Mapping[str, Any], ids: Iterable[str]) -> list[str]:
    """``ids`` parents first (Dagster wants a multi-asset's outputs in that order)."""
    wanted = set(ids)
    parents = manifest["parent_map"]
    done: list[str] = []
    seen: set[str] = set()

    def visit(uid: str) -> None:
        if uid in seen:
            return
        seen.add(uid)
        for parent in sorted(parents.get(uid, [])):
            visit(parent)
        if uid in wanted:
            done.append(uid)

    for uid in sorted(wanted):
        visit(uid)
    return done
