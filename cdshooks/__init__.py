"""CDS Hooks 2.0 service: imaging decisions for breast cancer with suspected or known bone metastases."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from flask import Flask

    from cdshooks.settings import Settings


def create_app(settings: Settings | None = None, **kwargs: Any) -> Flask:
    """Flask app factory (see `cdshooks.app.create_app`)."""
    from cdshooks.app import create_app as _create_app

    return _create_app(settings, **kwargs)


__all__ = ["__version__", "create_app"]
