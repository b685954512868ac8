"""An overloaded provider, played by a loopback front for a real server: the first requests fail, the rest pass."""

from __future__ import annotations

import os
import time
import urllib.error
import urllib.request
from typing import Any
from urllib.parse import urlsplit

from ..errors import BadInputError
from .loopback import LoopbackServer, QuietHandler

# What providers send when they shed load (their documented error bodies, shortened).
FAILURES = {
    429: {"type": "rate_limit_exceeded", "message": "Rate limit reached for requests per minute. Try again later."},
    503: {"type": "server_error", "message": "The server is overloaded or not ready yet."},
    529: {"type": "overloaded_error", "message": "Overloaded"},
}


class FailingFront:
    """An HTTP server on 127.0.0.1 that answers the first `failures` POSTs with `status` (429, 503 or 529, with a
    Retry-After header when given) and forwards every other request to `target`; `log` keeps (seconds when each try
    arrived, status). With `provider`, the kit's client for that provider goes through it while it runs
    (LLMKIT_<PROVIDER>_BASE_URL)."""

    def __init__(
        self,
        target: str,
        failures: int = 2,
        status: int = 429,
        retry_after_s: float | None = None,
        provider: str | None = None,
    ):
        if status not in FAILURES:
            raise BadInputError(f"status must be one of {sorted(FAILURES)}, got {status}.")
        if failures < 0:
            raise BadInputError(f"failures must be >= 0, got {failures}.")
        self.target, self.failures, self.status, self.retry_after_s = (
            target.rstrip("/"),
            failures,
            status,
            retry_after_s,
        )
        self.log: list[tuple[float, int]] = []
        self._variable = f"LLMKIT_{provider.upper()}_BASE_URL" if provider else None
        self._previous: str | None = None
        self._server: LoopbackServer | None = None
        self._start = time.perf_counter()

    @property
    def url(self) -> str:
        """The base URL to give a client instead of the target's (same path, /v1 included)."""
        if self._server is None:
            raise BadInputError("Start the front first: use it as `with FailingFront(...) as front:`.")
        return self._server.url(urlsplit(self.target).path)

    def __enter__(self) -> FailingFront:
        front = self

        class Handler(QuietHandler):
            def do_GET(self) -> None:
                self._forward(None)

            def do_POST(self) -> None:
                arrived = time.perf_counter() - front._start  # logged as the try's time, before any answer
                body = self.read_body()
                if len(front.log) < front.failures:
                    front.log.append((arrived, front.status))
                    retry = {} if front.retry_after_s is None else {"Retry_After": f"{front.retry_after_s:g}"}
                    self.send(front.status, {"error": {**FAILURES[front.status], "code": front.status}}, **retry)
                    return
                self._forward(body, arrived)

            def _forward(self, body: bytes | None, arrived: float = 0.0) -> None:
                target = urlsplit(front.target)
                req = urllib.request.Request(
                    f"{target.scheme}://{target.netloc}{self.path}",
                    data=body,
                    method=self.command,
                    headers={"Content-Type": self.headers.get("Content-Type", "")},
                )
                try:
                    with urllib.request.urlopen(req, timeout=600) as resp:
                        status, headers, payload = resp.status, resp.headers, resp.read()
                except urllib.error.HTTPError as err:
                    status, headers, payload = err.code, err.headers, err.read()
                if self.command == "POST":
                    front.log.append((arrived, status))
                self.send(status, payload, headers.get("Content-Type", "application/json"))

        self._server = LoopbackServer(Handler).__enter__()
        self._start = time.perf_counter()
        if self._variable:
            self._previous = os.environ.get(self._variable)
            os.environ[self._variable] = self.url
        return self

    def __exit__(self, *exc: Any) -> None:
        if self._variable:
            if self._previous is None:
                os.environ.pop(self._variable, None)
            else:
                os.environ[self._variable] = self._previous
        if self._server is not None:
            self._server.__exit__()
            self._server = None
