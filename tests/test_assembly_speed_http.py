"""Plain requests get flask_cors's headers remembered per path (`cdshooks.app.PlainCors`); every response must carry
exactly the headers, in exactly the order, flask_cors alone gives it, for every request shape and CORS configuration:
preflights, listed and unlisted origins, an empty Origin, the private-network header, errors, unknown paths."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from cdshooks import create_app
from cdshooks.app import PlainCors
from cdshooks.settings import Settings
from tests.conftest import ORDER_SELECT, PATIENT_VIEW, hook_request

LISTED = "https://ehr.example.org"


@contextmanager
def _apps(tmp_path: Path, **settings: Any) -> Iterator[tuple[Flask, Flask]]:
    """The service as built (PlainCors in place) and the same service with flask_cors's own hook put back."""
    made = []
    for name in ("fast", "general"):
        app = create_app(Settings(database_url=f"sqlite:///{tmp_path}/{name}.db", **settings))
        made.append(app)
    hooks = made[1].after_request_funcs[None]
    plain = [h for h in hooks if isinstance(h, PlainCors)]
    assert len(plain) == 1 and any(isinstance(h, PlainCors) for h in made[0].after_request_funcs[None])
    hooks[hooks.index(plain[0])] = plain[0].general
    try:
        yield made[0], made[1]
    finally:
        for app in made:
            app.extensions["cdshooks"].close()


CONFIGS = {
    "development-wildcard": {"allow_unauthenticated": True},
    "development-listed": {"allow_unauthenticated": True, "cors_origins": (LISTED, "https://other.example.org")},
    "one-origin": {"allow_unauthenticated": True, "cors_origins": (LISTED,)},
    "authenticated-wildcard-off": {"allow_unauthenticated": False},
    "authenticated-listed": {"allow_unauthenticated": False, "cors_origins": (LISTED,)},
}

HEADER_SHAPES: dict[str, dict[str, str]] = {
    "none": {},
    "listed-origin": {"Origin": LISTED},
    "other-origin": {"Origin": "https://evil.example.com"},
    "empty-origin": {"Origin": ""},
    "null-origin": {"Origin": "null"},
    "private-network": {"Access-Control-Request-Private-Network": "true"},
    "private-network-false": {"Access-Control-Request-Private-Network": "false"},
    "origin-and-private-network": {"Origin": LISTED, "Access-Control-Request-Private-Network": "true"},
    "forwarded-https": {"X-Forwarded-Proto": "https"},
}

PREFLIGHTS: dict[str, dict[str, str]] = {
    "preflight": {"Origin": LISTED, "Access-Control-Request-Method": "POST",
                  "Access-Control-Request-Headers": "Authorization, Content-Type"},
    "preflight-other": {"Origin": "https://evil.example.com", "Access-Control-Request-Method": "POST"},
    "preflight-no-origin": {"Access-Control-Request-Method": "POST"},
    "preflight-bad-method": {"Origin": LISTED, "Access-Control-Request-Method": "DELETE"},
}


def _requests() -> list[tuple[str, str, dict[str, Any]]]:
    """(method, path, client keyword arguments) for every endpoint kind and error."""
    good = hook_request()
    return [
        ("POST", f"/cds-services/{PATIENT_VIEW}", {"json": good}),
        ("POST", f"/cds-services/{ORDER_SELECT}", {"json": good}),  # wrong hook: 400
        ("POST", f"/cds-services/{PATIENT_VIEW}", {"data": b"{", "content_type": "application/json"}),
        ("POST", f"/cds-services/{PATIENT_VIEW}", {"data": b"{}", "content_type": "text/plain"}),
        ("POST", f"/cds-services/{PATIENT_VIEW}", {"data": b"[" * 100_000, "content_type": "application/json"}),
        ("POST", "/cds-services/no-such-service", {"json": good}),
        ("POST", f"/cds-services/{PATIENT_VIEW}/feedback", {"json": {"feedback": []}}),
        ("GET", "/cds-services", {}),
        ("GET", "/healthz", {}),
        ("GET", "/readyz", {}),
        ("GET", "/analytics/overrides", {}),
        ("GET", "/no/such/path", {}),
        ("GET", "/cds-services/%2e%2e/x", {}),
        ("PUT", "/cds-services", {}),
        ("DELETE", f"/cds-services/{PATIENT_VIEW}", {}),
    ]


def _answer(app: Flask, method: str, path: str, headers: dict[str, str], kwargs: dict[str, Any]) -> tuple[Any, ...]:
    response = app.test_client().open(path, method=method, headers=headers, **kwargs)
    listed = [(k, v) for k, v in response.headers.to_wsgi_list() if k != "Content-Length"]
    return response.status_code, listed


@pytest.mark.parametrize("config", list(CONFIGS))
def test_every_response_carries_flask_cors_headers(tmp_path: Path, config: str) -> None:
    with _apps(tmp_path, **CONFIGS[config]) as (fast, general):
        seen_cors = 0
        for method, path, kwargs in _requests():
            for shape, headers in HEADER_SHAPES.items():
                for attempt in range(3):  # the first plain request of a path is flask_cors's, the next ones remembered
                    got = _answer(fast, method, path, headers, kwargs)
                    want = _answer(general, method, path, headers, kwargs)
                    assert got == want, (config, method, path, shape, attempt)
                    seen_cors += any(k.startswith("Access-Control-") for k, _ in got[1])
            for shape, headers in PREFLIGHTS.items():
                got = _answer(fast, "OPTIONS", path, headers, {})
                assert got == _answer(general, "OPTIONS", path, headers, {}), (config, path, shape)
        if config != "authenticated-wildcard-off":
            assert seen_cors  # the comparison covered responses that do carry CORS headers


def test_plain_answers_are_remembered_per_path_and_bounded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with _apps(tmp_path, allow_unauthenticated=True) as (fast, _):
        plain = next(h for h in fast.after_request_funcs[None] if isinstance(h, PlainCors))
        calls: list[str] = []
        general = plain.general

        def counting(response: Any) -> Any:
            calls.append("flask_cors")
            return general(response)

        monkeypatch.setattr(plain, "general", counting)
        monkeypatch.setattr(PlainCors, "MAX_PATHS", 3)
        client = fast.test_client()
        for _ in range(3):
            assert client.get("/healthz").headers["Access-Control-Allow-Origin"] == "*"
        assert calls == ["flask_cors"]  # remembered after the first
        client.get("/healthz", headers={"Origin": LISTED})
        assert len(calls) == 2  # with an Origin: flask_cors every time
        for i in range(6):  # unknown service ids: answered 404 by the view, one path each
            client.post(f"/cds-services/nowhere-{i}", json={})
        assert len(plain._added) == 3  # bounded
        client.post("/cds-services/nowhere-5", json={})
        assert len(calls) == 2 + 6 + 1  # a path past the bound goes to flask_cors again


def test_paths_of_different_cors_resources_keep_their_own_headers() -> None:
    """On an app whose CORS resources differ by path, each path keeps flask_cors's own answer."""
    from flask import Response
    from flask_cors import CORS

    from cdshooks.app import remember_plain_cors

    def toy(fast: bool) -> Flask:
        app = Flask(__name__)
        CORS(app, resources={r"/a/*": {"origins": "*"}, r"/b/*": {"origins": [LISTED, "https://x.example"]},
                             r"/c/*": {"origins": [LISTED], "always_send": False}})
        if fast:
            remember_plain_cors(app)
            assert isinstance(app.after_request_funcs[None][-1], PlainCors)

        @app.get("/<part>/<rest>")
        def any_path(part: str, rest: str) -> Response:
            return Response("ok")

        return app

    fast, general = toy(True), toy(False)
    for _ in range(3):
        for path in ("/a/1", "/b/1", "/c/1", "/d/1", "/a/2", "/b/2"):
            for headers in ({}, {"Origin": LISTED}, {"Access-Control-Request-Private-Network": "true"}):
                got = _answer(fast, "GET", path, headers, {})
                assert got == _answer(general, "GET", path, headers, {}), (path, headers)
    assert {k for k, _ in _answer(fast, "GET", "/b/1", {}, {})[1]} >= {"Access-Control-Allow-Origin", "Vary"}


def _security_headers_before(response: Any) -> Any:
    """`security_headers` as it was written first."""
    from flask import request

    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    if request.method == "POST" or request.path.startswith("/analytics"):
        response.headers["Cache-Control"] = "no-store"
    if request.is_secure or request.headers.get("X-Forwarded-Proto", "").lower() == "https":
        response.headers.setdefault("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
    return response


def test_security_headers_as_before() -> None:
    from flask import Response

    from cdshooks.app import has_header, security_headers

    app = Flask(__name__)
    already = [[], [("X-Content-Type-Options", "sniff-me")], [("x-content-type-options", "nosniff")],
               [("Strict-Transport-Security", "max-age=1")],
               [("Cache-Control", "public"), ("cache-control", "max-age=9")],
               [("STRICT-TRANSPORT-SECURITY", "x"), ("X-Other", "1")]]
    for method in ("GET", "POST", "OPTIONS", "PUT"):
        for path in ("/cds-services", "/analytics", "/analytics/overrides", "/healthz", "/x/analytics"):
            for base in ("http://localhost", "https://localhost"):
                for forwarded in (None, "https", "HTTPS", "http", "", "https, http"):
                    headers = {} if forwarded is None else {"X-Forwarded-Proto": forwarded}
                    for present in already:
                        with app.test_request_context(path, method=method, base_url=base, headers=headers):
                            got = security_headers(Response("x", headers=present))
                            want = _security_headers_before(Response("x", headers=present))
                            assert got.headers.to_wsgi_list() == want.headers.to_wsgi_list(), (method, path, base,
                                                                                              forwarded, present)
    response = Response("x", headers=[("Vary", "Origin")])
    assert has_header(response.headers, "vary") and not has_header(response.headers, "origin")


def _read_before(raw: bytes, limit: int) -> Any:
    """`read_json`'s decoding as it was written first (json.loads with a new decoder per call)."""
    import json

    from cdshooks.http.body import _reject_constant
    from cdshooks.protocol.request import RequestProblem

    try:
        return json.loads(raw, parse_constant=_reject_constant)
    except RecursionError:
        raise RequestProblem([("body", f"JSON nested deeper than the parser allows (the limit is {limit} levels)")]) \
            from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise RequestProblem([("body", f"not valid JSON ({type(exc).__name__})")]) from None


BODIES = [b'{"a": 1}', b'\xef\xbb\xbf{"a": 1}', '{"a": "é"}'.encode("utf-16"), '{"a": 1}'.encode("utf-16-le"),
          '{"a": 1}'.encode("utf-32"), '{"a": 1}'.encode("utf-16-be"), b'{"a": "\xff"}', b'{"a": NaN}',
          b'{"a": -Infinity}', b'{"a": Infinity}', b'{"a": 1e999}', b'[1, 2', b'"text"', b'null', b'{"a": "\\ud800"}',
          b'  {"a" : [1, {"b": null}]}  ', b'{"a": 1} x', b'{"a": 1, "a": 2}', b"[" * 5000 + b"]" * 5000, b"\x00",
          b'{"k": "\xed\xa0\x80"}', b'{"a": 12345678901234567890123, "b": 1.5e-300}']


def test_body_decoding_as_before(tmp_path: Path) -> None:
    from cdshooks.http.body import read_json
    from cdshooks.protocol.request import RequestProblem

    app = create_app(Settings(database_url=f"sqlite:///{tmp_path}/d.db", allow_unauthenticated=True,
                              max_json_depth=10_000))
    try:
        for raw in BODIES:
            try:
                want: Any = ("ok", _read_before(raw, 10_000))
            except RequestProblem as exc:
                want = ("problem", exc.problems)
            with app.test_request_context("/cds-services/x", method="POST", data=raw,
                                          content_type="application/json"):
                try:
                    got: Any = ("ok", read_json())
                except RequestProblem as exc:
                    got = ("problem", exc.problems)
            assert repr(got) == repr(want), raw[:40]
    finally:
        app.extensions["cdshooks"].close()
