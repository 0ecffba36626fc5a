"""The knowledge as the service runs it: validated knowledge, checked cards, the card renderer and the version.

One loader for the service (`create_app`) and the simulator (`cdshooks simulate --knowledge-dir`), so a
simulation answers exactly as the service would with that knowledge.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from cdshooks.catalog.check import Cards, default_cards, load_cards
from cdshooks.catalog.orders import procedure_orders
from cdshooks.catalog.render import CardRenderer
from cdshooks.catalog.safety import ContrastPolicy
from cdshooks.clinical.knowledge import Knowledge, default_knowledge, load_knowledge
from cdshooks.clinical.topics import registry
from cdshooks.governance.delivery import silent_topics
from cdshooks.governance.knowledge_version import KnowledgeVersion, knowledge_version


@dataclass(frozen=True)
class KnowledgeSet:
    knowledge: Knowledge
    cards: Cards
    render: CardRenderer
    version: KnowledgeVersion
    directory: str | None  # the override directory (None: shipped knowledge only)

    def silent(self, setting: Iterable[str]) -> frozenset[str]:
        """Silent topics: the setting's (checked against the topic registry) and the cards marked silent."""
        return silent_topics(setting, self.cards.catalog, registry().topics)


def load_knowledge_set(knowledge_dir: str | Path | None = None) -> KnowledgeSet:
    """KnowledgeError / CatalogError naming file and key when the knowledge or a card file is invalid."""
    directory = str(knowledge_dir) if knowledge_dir else None
    knowledge = load_knowledge(directory) if directory else default_knowledge()
    cards = load_cards(directory) if directory else default_cards()
    orders = procedure_orders(knowledge)
    contrast = ContrastPolicy(knowledge, orders, cards.contrast)
    render = CardRenderer(cards.catalog, orders, cards.phrases, contrast=contrast)
    return KnowledgeSet(knowledge, cards, render, knowledge_version(directory), directory)
