"""What one app instance holds for its requests: settings, clock, store, FHIR session, worker pool, authentication."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime

import requests
from flask import current_app

from cdshooks.auth.jwt_check import JwtVerifier
from cdshooks.catalog.render import CardRenderer
from cdshooks.clinical.knowledge import Knowledge
from cdshooks.fhir.allowlist import FhirServerPolicy
from cdshooks.fhir.assemble import HostGates
from cdshooks.governance.knowledge_version import KnowledgeVersion
from cdshooks.governance.repeats import RepeatGuard
from cdshooks.settings import Settings
from cdshooks.store.store import Store

Clock = Callable[[], datetime]


def system_clock() -> datetime:
    return datetime.now(UTC)


@dataclass
class Runtime:
    settings: Settings
    clock: Clock
    store: Store
    session: requests.Session
    executor: ThreadPoolExecutor
    policy: FhirServerPolicy
    knowledge: Knowledge
    render: CardRenderer
    auth: JwtVerifier | None = None  # None: development mode, no client authentication
    host_gates: HostGates = field(default_factory=lambda: HostGates(12 * 2))  # fetch threads per fhirServer
    # governance (cdshooks.governance): the knowledge version, silent topics, the no-repeat check (None: off)
    knowledge_version: KnowledgeVersion | None = None
    silent_topics: frozenset[str] = frozenset()
    repeats: RepeatGuard | None = None

    def close(self) -> None:
        if self.auth is not None:
            self.auth.keys.close()
            self.auth.replay.close()
        self.store.close()
        self.executor.shutdown(wait=False, cancel_futures=True)
        self.session.close()


def runtime() -> Runtime:
    rt: Runtime = current_app.extensions["cdshooks"]
    return rt
