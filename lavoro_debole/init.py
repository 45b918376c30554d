"""``lavoro init DIR``: a new data directory, ready for the partners' files.

``lavoro run`` refuses a data directory without ``inbox/`` (a mistyped
``LAVORO_DATA_DIR`` must not become a new, empty warehouse with empty funder
workbooks); this is how one is made. Existing folders and files are left as they are.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from lavoro_debole.schemas import FEEDS
from lavoro_debole.settings import DBT_PROJECT_DIR

SEEDS = DBT_PROJECT_DIR / "seeds"
REFERENCE_TEMPLATES = {
    # the steward's list of type-B social cooperatives: an example to copy, not active
    "cooperative_sociali.esempio.csv": SEEDS / "cooperative_sociali_default.csv",
}
REFERENCE_README = """\
Elenchi di riferimento tenuti dal referente dei dati.

cooperative_sociali.csv (colonne ragione_sociale;partita_iva): le cooperative sociali di
tipo B. Se manca vale l'elenco predefinito del progetto. Per crearlo copiare
cooperative_sociali.esempio.csv in cooperative_sociali.csv e correggerlo.
Viene riletto a ogni elaborazione.
"""


def init_data_dir(data_dir: Path) -> list[str]:
    """Create ``inbox/<feed>/`` for every feed and ``reference/`` with its templates;
    returns the lines that tell the operator what was made and what to do next."""
    data_dir = Path(data_dir)
    inbox = data_dir / "inbox"
    for feed in FEEDS:
        (inbox / feed).mkdir(parents=True, exist_ok=True)
    reference = data_dir / "reference"
    reference.mkdir(parents=True, exist_ok=True)
    for name, source in REFERENCE_TEMPLATES.items():
        if source.is_file() and not (reference / name).exists():
            shutil.copyfile(source, reference / name)
    readme = reference / "LEGGIMI.txt"
    if not readme.exists():
        readme.write_text(REFERENCE_README, encoding="utf-8")
    return [
        f"Cartella dati pronta: {data_dir}",
        f"  {inbox}/<flusso>/ per i file dei partner ({', '.join(FEEDS)})",
        f"  {reference}/ per gli elenchi di riferimento (vedi LEGGIMI.txt)",
        "Poi:",
        f"  export LAVORO_DATA_DIR={data_dir}",
        '  export LAVORO_PSEUDONYM_KEY=...  (una volta: python -c "import secrets; '
        'print(secrets.token_hex(32))", da conservare fuori dal repository)',
        "  export LAVORO_VAULT_KEY=...  (un'altra chiave, allo stesso modo: cifra il deposito "
        "riservato)",
        "  export LAVORO_WAREHOUSE_KEY=...  (un'altra ancora, consigliata: cifra il magazzino; "
        "da impostare prima del primo `lavoro run`, senza non si riapre)",
        "  salvare i file dei partner in inbox/<flusso>/ e lanciare `lavoro run`",
    ]
