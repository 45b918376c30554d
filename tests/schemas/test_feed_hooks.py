"""The feed modules' own rules: label, context hook and sender column, without the ingest."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from lavoro_debole.schemas import FEEDS, ContextRefused


@dataclass(frozen=True)
class S:
    sender_id: str
    display_name: str
    district: str | None = None
    consortium: str | None = None


def test_every_feed_has_a_label_for_the_steward() -> None:
    labels = [feed.label for feed in FEEDS.values()]
    assert all(labels) and len(set(labels)) == len(labels)


def test_a_context_hook_fills_only_context_columns_of_its_feed() -> None:
    for feed in FEEDS.values():
        declared = {name for entity in feed.entities for name in entity.context_columns}
        if feed.context is None:
            assert not declared, f"{feed.name} has context columns but no hook to fill them"
        if feed.sender_column is not None:
            assert feed.sender_column in declared


def test_a_case_takes_its_senders_district() -> None:
    hook = FEEDS["servizi_sociali"].context
    assert hook is not None
    office = S("udp_casale", "UdP Casalpusterlengo", district="Casalpusterlengo")
    assert hook(office, [office]) == {"district": "Casalpusterlengo"}


def test_a_case_sender_without_district_is_refused_naming_the_list() -> None:
    hook = FEEDS["servizi_sociali"].context
    assert hook is not None
    with pytest.raises(ContextRefused) as refused:
        hook(S("x", "Ufficio X"), [])
    assert str(refused.value) == (
        "il mittente 'Ufficio X' non ha un distretto nell'elenco dei mittenti "
        "(reference/senders.csv, flusso 'servizi_sociali', colonna 'district')"
    )


def test_a_single_cooperative_names_itself_a_consortium_names_nobody() -> None:
    hook = FEEDS["cooperative"].context
    assert hook is not None
    arca = S("arca", "Consorzio Arca")
    member = S("mosaico", "Il Mosaico", consortium="arca")
    single = S("rete", "La Rete Verde")
    senders = [arca, member, single]
    assert hook(single, senders) == {"cooperative": "La Rete Verde"}
    assert hook(arca, senders) == {}
    assert FEEDS["cooperative"].sender_column == "cooperative"


def test_the_generator_writes_every_feed_and_entity_of_the_schemas() -> None:
    """The synthetic room imports no schema (it plays the partners), so it lists the feeds
    itself: a feed added to the schemas and not to the generator fails here."""
    from lavoro_debole.synthetic import generate

    assert set(generate.FEEDS) == set(FEEDS)
    assert {
        name: tuple(entity.table for entity in feed.entities) for name, feed in FEEDS.items()
    } == generate.ENTITIES
