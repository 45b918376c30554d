"""One module per feed: header variants, vocabularies, Pandera model. Imports nothing of ours.

Adding a feed means adding a module here and listing its ``FEED`` below (then its
staging model and one line of the ``feeds`` var in dbt_project/dbt_project.yml).
"""

from lavoro_debole.schemas import (
    cfp,
    cooperative,
    imprese,
    provincia_co,
    provincia_tirocini,
    servizi_sociali,
    sportello,
)
from lavoro_debole.schemas._base import (
    REASONS,
    Column,
    ContextHook,
    ContextRefused,
    DateOrder,
    Entity,
    Feed,
    SenderLike,
    fold,
    is_valid_cf,
    is_valid_piva,
    normalise_cf,
    normalise_piva,
)

FEEDS: dict[str, Feed] = {
    module.FEED.name: module.FEED
    for module in (
        provincia_co,
        provincia_tirocini,
        servizi_sociali,
        cfp,
        cooperative,
        sportello,
        imprese,
    )
}

__all__ = [
    "FEEDS",
    "REASONS",
    "Column",
    "ContextHook",
    "ContextRefused",
    "DateOrder",
    "Entity",
    "Feed",
    "SenderLike",
    "fold",
    "is_valid_cf",
    "is_valid_piva",
    "normalise_cf",
    "normalise_piva",
]
