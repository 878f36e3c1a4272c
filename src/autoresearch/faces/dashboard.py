"""`autoresearch dashboard`: a live local page of the session, refreshed as experiments land."""

from __future__ import annotations

import ipaddress
import json
import logging
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from autoresearch.errors import UsageError
from autoresearch.faces.render import json_ready
from autoresearch.session import Session

log = logging.getLogger(__name__)

LOOPBACK_NAMES = {"localhost", "127.0.0.1", "::1"}


def is_loopback(host: str) -> bool:
    """Whether `host` names this machine only.

    >>> is_loopback("127.0.0.1"), is_loopback("localhost"), is_loopback("0.0.0.0"), is_loopback("::1")
    (True, True, False, True)
    """
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


@dataclass
class Snapshot:
    """The report data for one version of the ledger, kept until the ledger changes."""

    version: str
    report: dict[str, Any]


class Dashboard:
    """What the page shows: the session's report data and the running experiment's progress."""

    def __init__(self, session: Session, segment: int | None = None):
        self.session = session
        self.segment = segment
        self._lock = threading.Lock()
        self._snapshot: Snapshot | None = None

    def version(self) -> str:
        """Changes whenever the ledger does (an append changes its size)."""
        try:
            st = self.session.paths.ledger.stat()
        except FileNotFoundError:
            return "empty"
        return f"{st.st_size}-{st.st_mtime_ns}"

    def report(self) -> Snapshot:
        from autoresearch.faces.report import build_report

        with self._lock:
            version = self.version()
            if self._snapshot is None or self._snapshot.version != version:
                data = build_report(self.session, self.segment).as_dict()
                self._snapshot = Snapshot(version, data)
            return self._snapshot

    def state(self, since: str | None = None) -> dict[str, Any]:
        """For `/api/state`: the report only when it changed since the version the page has."""
        from autoresearch.progress import read_progress

        snapshot = self.report()
        state: dict[str, Any] = {"version": snapshot.version,
                                 "progress": read_progress(self.session.paths.progress)}
        if since != snapshot.version:
            state["report"] = snapshot.report
        return state

    def page(self) -> str:
        from autoresearch.faces.report import build_report
        from autoresearch.faces.report.html import render_html

        return render_html(build_report(self.session, self.segment), live=True)


def make_server(dashboard: Dashboard, host: str = "127.0.0.1", port: int = 8765,
                allow_remote: bool = False) -> ThreadingHTTPServer:
    """Bind the page to `host:port` (port 0 picks a free one); loopback only unless allowed."""
    if not allow_remote and not is_loopback(host):
        raise UsageError(f"the dashboard serves on this machine only (127.0.0.1); {host} would show "
                         "the session to the network: pass --allow-remote if that is what you want")

    class Handler(_Handler):
        pass

    Handler.dashboard = dashboard
    Handler.allow_remote = allow_remote
    server_class = _Server6 if ":" in host else ThreadingHTTPServer
    try:
        server = server_class((host, port), Handler)
    except OSError as exc:
        raise UsageError(f"cannot serve on {host}:{port}: {exc.strerror or exc} "
                         "(choose another --port, or 0 for any free one)") from None
    server.daemon_threads = True  # a page left open must not keep the command alive
    return server


def serve(session: Session, host: str = "127.0.0.1", port: int = 8765, allow_remote: bool = False,
          segment: int | None = None, ready: Callable[[str], None] = lambda _: None) -> None:
    """Serve until Ctrl-C; `ready` gets the page's URL once it is listening."""
    server = make_server(Dashboard(session, segment), host, port, allow_remote)
    bound, bound_port = server.server_address[:2]
    bound_host = bound.decode() if isinstance(bound, bytes) else str(bound)
    shown = f"[{bound_host}]" if ":" in bound_host else bound_host
    ready(f"http://{shown}:{bound_port}/")
    try:
        server.serve_forever(poll_interval=0.25)
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


def host_of(header: str) -> str:
    """The host part of a Host header.

    >>> host_of("127.0.0.1:8765"), host_of("[::1]:80"), host_of("localhost")
    ('127.0.0.1', '::1', 'localhost')
    """
    if header.startswith("["):
        return header[1:].split("]")[0]
    return header.rsplit(":", 1)[0] if header.count(":") == 1 else header


class _Server6(ThreadingHTTPServer):
    address_family = socket.AF_INET6


class _Handler(BaseHTTPRequestHandler):
    dashboard: Dashboard
    allow_remote: bool
    server_version = "autoresearch"

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        if not self.allow_remote and not is_loopback(host_of(self.headers.get("Host") or "")):
            # another site's page that resolved its own name to 127.0.0.1 (DNS rebinding)
            return self._send(HTTPStatus.FORBIDDEN, "text/plain", b"forbidden host\n")
        try:
            if url.path == "/":
                return self._send(HTTPStatus.OK, "text/html; charset=utf-8",
                                  self.dashboard.page().encode("utf-8"))
            if url.path == "/api/state":
                since = parse_qs(url.query).get("since", [None])[0]
                # strict JSON: the page's JSON.parse refuses the Infinity of an unbounded interval
                body = json.dumps(json_ready(self.dashboard.state(since)), default=str,
                                  allow_nan=False).encode("utf-8")
                return self._send(HTTPStatus.OK, "application/json", body)
        except Exception as exc:
            log.exception("dashboard request %s failed", url.path)
            return self._send(HTTPStatus.INTERNAL_SERVER_ERROR, "text/plain",
                              f"{type(exc).__name__}: {exc}\n".encode())
        return self._send(HTTPStatus.NOT_FOUND, "text/plain", b"not found\n")

    def _send(self, status: HTTPStatus, kind: str, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("dashboard: " + format, *args)
