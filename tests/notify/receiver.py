"""A real HTTP server on 127.0.0.1 that receives webhooks and checks their signatures."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from minyi.notify.domain import verify_signature


@dataclass(frozen=True)
class Received:
    delivery: str
    event: str
    timestamp: str
    signature_ok: bool
    answered: int
    body: dict[str, Any]


@dataclass
class Receiver:
    """What the receiving system does: `status` to answer, `delay` seconds to think first."""

    url: str = ""
    secret: str = ""
    status: int = 200
    delay: float = 0.0
    # When set, the first `parties` requests wait here until all of them are in flight.
    rendezvous: threading.Barrier | None = None
    requests: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    _arrived: int = 0

    @property
    def accepted(self) -> list[Received]:
        """The deliveries the receiver took (a 2xx answer to a correctly signed request)."""
        with self.lock:
            return [r for r in self.requests if 200 <= r.answered < 300]

    def answer(self, headers: Any, raw: bytes) -> int:
        timestamp = headers.get("X-Minyi-Timestamp", "")
        ok = verify_signature(self.secret, timestamp, raw, headers.get("X-Minyi-Signature", ""))
        answered = self.status if ok else 401
        with self.lock:
            self._arrived += 1
            meets = self.rendezvous is not None and self._arrived <= self.rendezvous.parties
        if meets and self.rendezvous is not None:
            try:
                self.rendezvous.wait()
            except threading.BrokenBarrierError:
                answered = 599
        if self.delay:
            time.sleep(self.delay)
        with self.lock:
            self.requests.append(
                Received(
                    delivery=headers.get("X-Minyi-Delivery", ""),
                    event=headers.get("X-Minyi-Event", ""),
                    timestamp=timestamp,
                    signature_ok=ok,
                    answered=answered,
                    body=json.loads(raw),
                )
            )
        return answered


class _Handler(BaseHTTPRequestHandler):
    receiver: Receiver

    def do_POST(self) -> None:
        raw = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        answered = self.receiver.answer(self.headers, raw)
        self.send_response(answered)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass  # keep the test output clean


@contextmanager
def running_receiver(secret: str = "") -> Iterator[Receiver]:
    receiver = Receiver(secret=secret)
    handler = type("Handler", (_Handler,), {"receiver": receiver})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    host, port = server.server_address[:2]
    receiver.url = f"http://{host!s}:{port}/minyi/events"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@dataclass(frozen=True)
class GatewayCall:
    authorization: str
    idempotency_key: str
    body: dict[str, Any]
    answered: int


@dataclass
class Gateway:
    """An SMS/WeChat gateway: answers from `script` in turn (status, delay), then `status`.

    Like a real gateway it remembers the message ids it accepted and answers a second
    request for one with 409 (duplicate) instead of sending it again.
    """

    url: str = ""
    status: int = 200
    delay: float = 0.0
    script: list[tuple[int, float]] = field(default_factory=list)
    calls: list[GatewayCall] = field(default_factory=list)
    accepted_ids: set[int] = field(default_factory=set)
    # When set, the first `parties` requests wait here until all of them are in flight.
    rendezvous: threading.Barrier | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)
    _arrived: int = 0

    @property
    def texts_sent(self) -> list[dict[str, Any]]:
        """What reached a phone: each accepted message once."""
        with self.lock:
            return [c.body for c in self.calls if 200 <= c.answered < 300]

    def answer(self, headers: Any, raw: bytes) -> tuple[int, bytes]:
        body = json.loads(raw)
        # Taken (and recorded) on arrival, before any delay: a slow gateway has already
        # accepted the message when the client stops waiting for its answer.
        with self.lock:
            status, delay = self.script.pop(0) if self.script else (self.status, self.delay)
            if 200 <= status < 300 and body["message_id"] in self.accepted_ids:
                status = 409
            if 200 <= status < 300:
                self.accepted_ids.add(body["message_id"])
            self.calls.append(
                GatewayCall(
                    authorization=headers.get("Authorization", ""),
                    idempotency_key=headers.get("Idempotency-Key", ""),
                    body=body,
                    answered=status,
                )
            )
            self._arrived += 1
            meets = self.rendezvous is not None and self._arrived <= self.rendezvous.parties
        if meets and self.rendezvous is not None:
            self.rendezvous.wait()
        if delay:
            time.sleep(delay)
        provider = f"gw-{body['message_id']}"
        if 200 <= status < 300 or status == 409:
            answer = {"accepted": True, "provider_id": provider}
        else:
            answer = {"accepted": False, "error": "try later" if status >= 429 else "bad"}
        return status, json.dumps(answer).encode()


class _GatewayHandler(BaseHTTPRequestHandler):
    gateway: Gateway

    def do_POST(self) -> None:
        raw = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        status, answer = self.gateway.answer(self.headers, raw)
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)
        except OSError:
            pass  # the client gave up waiting (the timeout test)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextmanager
def running_gateway() -> Iterator[Gateway]:
    gateway = Gateway()
    handler = type("GatewayHandler", (_GatewayHandler,), {"gateway": gateway})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    host, port = server.server_address[:2]
    gateway.url = f"http://{host!s}:{port}/send"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield gateway
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
