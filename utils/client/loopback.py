"""One way to serve HTTP on this machine only: the overload demo, the provider zoo and the tests' stand-ins use it."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class QuietHandler(BaseHTTPRequestHandler):
    """A request handler that keeps the notebook quiet and answers JSON (or any bytes) in one call."""

    def log_message(self, *args: Any) -> None:  # no access log in the notebook
        pass

    def read_body(self) -> bytes:
        """The request's body (empty when it has none)."""
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def send(self, status: int, payload: Any, content_type: str = "application/json", **headers: str) -> None:
        """Answer with a status and a payload: bytes as they are, anything else as JSON; headers as keywords
        (Retry_After= becomes Retry-After)."""
        data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name.replace("_", "-"), value)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def send_events(self, events: list[Any]) -> None:
        """Answer 200 with a server-sent event stream: each event as a `data:` line, then `data: [DONE]`."""
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.end_headers()
        for event in events:
            self.wfile.write(f"data: {event if isinstance(event, str) else json.dumps(event)}\n\n".encode())
        self.wfile.write(b"data: [DONE]\n\n")


class LoopbackServer:
    """`with LoopbackServer(Handler) as server:` serves on 127.0.0.1 at a free port, in a thread, until the block
    ends; server.url(path) is the address of a path on it."""

    def __init__(self, handler: type[BaseHTTPRequestHandler]):
        self.handler = handler
        self._server: ThreadingHTTPServer | None = None

    @property
    def running(self) -> bool:
        """Whether the server is serving."""
        return self._server is not None

    @property
    def port(self) -> int:
        """The port it serves on."""
        if self._server is None:
            raise RuntimeError("the loopback server is not running: use it in a `with` block")
        return int(self._server.server_address[1])

    def url(self, path: str = "") -> str:
        """http://127.0.0.1:<port> followed by path."""
        return f"http://127.0.0.1:{self.port}{path}"

    def __enter__(self) -> LoopbackServer:
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self.handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
