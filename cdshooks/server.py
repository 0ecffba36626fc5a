"""Run the app under gunicorn (threaded workers); never the Flask development server."""

from __future__ import annotations

import gc
from typing import Any

from gunicorn.app.base import BaseApplication


class _Gunicorn(BaseApplication):
    def __init__(self, options: dict[str, Any]) -> None:
        self._options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self._options.items():
            self.cfg.set(key, value)

    def load(self) -> Any:
        from cdshooks.app import create_app

        app = create_app()
        # Move the app's long-lived objects (Flask, pydantic, SQLAlchemy: ~75k) out of the collector's
        # reach: full collections over them caused 30-40 ms p99 spikes (see bench/README.md).
        gc.freeze()
        return app


def run(host: str, port: int, workers: int, threads: int) -> None:
    bind = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    _Gunicorn({
        "bind": bind,
        "workers": workers,
        "threads": threads,
        "worker_class": "gthread",
        "timeout": 30,
        "graceful_timeout": 10,
        "keepalive": 5,
        # JWTs up to the documented 16 KB cap (gunicorn's default field limit is 8,190 bytes)
        "limit_request_field_size": 20_000,
        "accesslog": None,
        "errorlog": "-",
        "loglevel": "warning",
        "proc_name": "cdshooks",
    }).run()
