"""`cdshooks check-service`: a CDS Hooks 2.0 (and 3.0-ballot) conformance kit for any running CDS service.

- `requirements`: the catalogue, with ids (Inferno's CDS Hooks 2.0 rows, or spec anchors);
- `client`: bounded HTTP to the service; `stub`: the loopback FHIR server (and JWK set) the kit starts;
- `hook_requests`: built-in minimal requests per hook; `tokens`: prefetch template rules;
- `checks/`: discovery, invocation, prefetch handling, responses (card rules), security, feedback;
- `runner`: one run; `reporters`: text, JSON and JUnit; `command`: the click command.
"""

from cdshooks.conformance_kit.results import Report, Status
from cdshooks.conformance_kit.runner import Options, run

__all__ = ["Options", "Report", "Status", "run"]
