"""Can this process listen on host:port? Asked before gunicorn starts, so a busy port is one plain line.

`python -m cdshooks.ports HOST PORT` (used by `make run`) exits 1 with "port 8080 is in use; try
`make run PORT=9000`" when it cannot.
"""

from __future__ import annotations

import errno
import socket
import sys


def bind_problem(host: str, port: int) -> str | None:
    """None when host:port can be bound as gunicorn binds it (SO_REUSEADDR), else why not, in words."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        with socket.socket(family, socket.SOCK_STREAM) as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((host.strip("[]"), port))
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            return "in use"
        if exc.errno == errno.EACCES:
            return "not open to this user (ports below 1024 need privileges)"
        if exc.errno == errno.EADDRNOTAVAIL:
            return f"not available: {host} is not an address of this machine"
        return exc.strerror or type(exc).__name__
    return None


def suggest_port(host: str, busy: int) -> int:
    """A port to offer instead of `busy`: 9000 when free, else the next free one above `busy`."""
    for candidate in (9000, *range(busy + 1, min(busy + 200, 65536))):
        if candidate != busy and bind_problem(host, candidate) is None:
            return candidate
    return 9000


def main(argv: list[str]) -> int:
    host, port = argv[0], int(argv[1])
    problem = bind_problem(host, port)
    if problem is None:
        return 0
    if problem == "in use":
        print(f"port {port} is in use; try `make run PORT={suggest_port(host, port)}`", file=sys.stderr)
    else:
        print(f"cannot listen on {host}:{port}: {problem}; try `make run PORT=9000` or another HOST",
              file=sys.stderr)
    return 1


if __name__ == "__main__":  # pragma: no cover - exercised through `make run` in tests/test_new_user_errors.py
    sys.exit(main(sys.argv[1:]))
