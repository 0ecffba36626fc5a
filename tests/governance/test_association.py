"""Card <-> order association: a card about drafted orders names them (the Da Vinci CRD associated-resource
shape under this service's own key); a card about the chart names none."""

from __future__ import annotations

from cdshooks.clinical.findings import Finding
from cdshooks.governance.extensions import ASSOCIATED_KEY, card_extension
from cdshooks.governance.knowledge_version import KnowledgeVersion
from tests.governance.conftest import NO_BMA, NOT_APPROPRIATE, AppFactory, call


def test_a_card_about_a_drafted_order_names_it(gov_app: AppFactory) -> None:
    body = call(gov_app(), NOT_APPROPRIATE)
    card = next(c for c in body["cards"] if c["source"]["topic"]["code"] == "acr-usually-not-appropriate")
    assert card["extension"][ASSOCIATED_KEY] == [{"reference": "ServiceRequest/sr-mri-cap"}]
    rated = {f"ServiceRequest/{a['resource']['id']}" for a in body["systemActions"]}
    assert {ref["reference"] for ref in card["extension"][ASSOCIATED_KEY]} <= rated  # the order lines rated


def test_a_card_about_the_chart_names_no_order(gov_app: AppFactory) -> None:
    body = call(gov_app(), NO_BMA)
    assert body["cards"] and all(ASSOCIATED_KEY not in card["extension"] for card in body["cards"])


def test_every_drafted_order_of_the_finding_is_named_once() -> None:
    version = KnowledgeVersion("1.0.0", "a" * 64)
    finding = Finding("cns-symptoms-mri-brain", order_ids=("ServiceRequest/1", "ServiceRequest/2", "ServiceRequest/1"))
    assert card_extension(version, finding)[ASSOCIATED_KEY] == [{"reference": "ServiceRequest/1"},
                                                                {"reference": "ServiceRequest/2"}]
