"""A real HTTP server on 127.0.0.1 that receives alert webhooks, for tests (http.server in a thread).

    with WebhookReceiver() as receiver:
        receiver.url                  # http://127.0.0.1:PORT/hook
        receiver.statuses = [500]     # every request answered 500 (the last status repeats); default [204]
        receiver.requests[-1].body    # the raw bytes it received; .headers, .path

`signature_valid()` checks a request the way the README tells receivers to: it does not use the portal's code."""

from __future__ import annotations

import hashlib
import hmac
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class ReceivedRequest:
    path: str
    headers: dict[str, str]
    body: bytes


def signature_valid(*, secret: str, header: str, body: bytes, tolerance_seconds: int = 300) -> bool:
    """The receiver's check of `X-Gateway-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`."""
    parts = dict(part.split("=", 1) for part in header.split(","))
    expected = hmac.new(secret.encode(), f"{parts['t']}.".encode() + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, parts["v1"]) and abs(time.time() - int(parts["t"])) < tolerance_seconds


class WebhookReceiver:
    def __init__(self) -> None:
        self.requests: list[ReceivedRequest] = []
        self.statuses: list[int] = [204]
        self.location = ""  # sent with a 3xx status
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                receiver.requests.append(ReceivedRequest(self.path, dict(self.headers.items()), body))
                index = min(len(receiver.requests), len(receiver.statuses)) - 1
                self.send_response(receiver.statuses[index])
                if receiver.location:
                    self.send_header("Location", receiver.location)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args) -> None:  # quiet test output
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/hook"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> WebhookReceiver:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()
