"""Running the HTTP server: uvicorn, with graceful draining on SIGTERM, and the HTTP parser's own
limits on what a client may send before the application sees a request.

What uvicorn and h11 offer is used, and only the rest is ours:

* the parser is h11, whose ``max_incomplete_event_size`` (``--max-header-bytes``) bounds the
  request line and headers: a 60 MiB header is refused after its first read, where httptools
  (uvicorn's default when installed) has no such bound and parses it for seconds;
* a header read timeout (``--header-timeout-s``) is ours: uvicorn's ``timeout_keep_alive`` only
  runs between requests, and a client that sends its headers a byte at a time would hold its
  connection for ever;
* uvicorn's ``limit_concurrency`` is left unset: it counts open connections, so slow clients would
  fill it and lock everyone out; admission counts generations instead, once a body has arrived
  (``server.web.middleware.AdmissionControl``, with the body's size and time limits).
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import json
import logging
import math
from typing import Any

import h11
import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

from potcot.server.web.app import build_app
from potcot.server.web.errors import error_body
from potcot.server.web.middleware import OPEN_PATHS
from potcot.server.web.settings import HttpSettings, ServerSettings

logger = logging.getLogger(__name__)

_RULE = "*" * 100
_OPEN_TO_THE_NETWORK = (
    _RULE,
    "potcot is listening on {address} WITHOUT AN API KEY.",
    "Anyone who can reach this port can use the model and run programs in its sandbox.",
    "Set a key: potcot serve --api-key KEY, or the environment variable POTCOT_API_KEY=KEY",
    "(several keys: repeat the flag, or separate them with commas); clients then send",
    "'Authorization: Bearer KEY'. Or listen on 127.0.0.1 only: --host 127.0.0.1.",
    _RULE,
)


def serve(settings: ServerSettings) -> None:
    """Serve until SIGINT or SIGTERM; in-flight requests get ``graceful_shutdown_s`` to finish.
    Exits non-zero if the model failed to load."""
    logging.getLogger().setLevel(settings.log_level.upper())
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per upstream health check otherwise
    log_access_policy(settings)
    server: uvicorn.Server | None = None

    def stop() -> None:
        if server is not None:
            server.should_exit = True

    app = build_app(settings, on_load_failure=stop)
    server = uvicorn.Server(uvicorn_config(app, settings))
    # uvicorn handles Ctrl-C (drains, closes the engine and the sandbox), then raises it again for
    # the caller; a server stopped that way has done what it was asked, as uvicorn's own CLI says.
    with contextlib.suppress(KeyboardInterrupt):
        server.run()
    failure = app.state.runtime.failure
    if failure:
        raise SystemExit(f"potcot: {failure}")


def uvicorn_config(app: Any, settings: HttpSettings) -> uvicorn.Config:
    """How potcot runs uvicorn; tests start their servers with the same configuration."""
    return uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level,
        timeout_graceful_shutdown=math.ceil(settings.graceful_shutdown_s),  # uvicorn takes whole seconds
        access_log=False,
        http=type("PotcotH11Protocol", (GuardedH11Protocol,), {"header_timeout_s": settings.header_timeout_s}),
        h11_max_incomplete_event_size=settings.max_header_bytes,
    )


class GuardedH11Protocol(H11Protocol):
    """uvicorn's h11 protocol with a deadline on each request's headers, from their first byte
    (from the connection's opening for the first request), and refusals in OpenAI's JSON error
    shape: 408 when the deadline passes, 431 for headers past h11's size bound, 400 for the rest
    of what h11 cannot parse. Each closes the connection."""

    header_timeout_s: float = 10.0

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        self._header_deadline: asyncio.TimerHandle | None = None
        super().connection_made(transport)
        self._arm_header_deadline()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm_header_deadline()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        # IDLE: the next request's headers have begun but are not all in. Any other state: they
        # are (or the connection has failed and is closing).
        if self.conn.their_state is h11.IDLE and self.conn.our_state is h11.IDLE:
            self._arm_header_deadline()
        else:
            self._disarm_header_deadline()

    def _arm_header_deadline(self) -> None:
        if self._header_deadline is None and not self.transport.is_closing():
            self._header_deadline = self.loop.call_later(self.header_timeout_s, self._headers_timed_out)

    def _disarm_header_deadline(self) -> None:
        if self._header_deadline is not None:
            self._header_deadline.cancel()
            self._header_deadline = None

    def _headers_timed_out(self) -> None:
        self._header_deadline = None
        if self.conn.their_state is h11.IDLE and not self.transport.is_closing():
            self._refuse(408, f"the request headers did not arrive within {self.header_timeout_s:g} s")

    def send_400_response(self, msg: str) -> None:
        buffered, _ = self.conn.trailing_data
        limit = self.config.h11_max_incomplete_event_size  # potcot always sets it: --max-header-bytes
        if limit is not None and len(buffered) > limit:
            kilobytes = limit // 1024
            self._refuse(431, f"the request line and headers are over {kilobytes} KiB")
        else:
            self._refuse(400, "invalid HTTP request")

    def _refuse(self, status: int, message: str) -> None:
        """Write the response bytes ourselves: h11 refuses to send on a connection it has seen fail."""
        kind = "invalid_request_error"
        body = json.dumps(error_body(message, kind).model_dump()).encode()
        head = (
            f"HTTP/1.1 {status} {_REASONS[status]}\r\ncontent-type: application/json\r\n"
            f"content-length: {len(body)}\r\nconnection: close\r\n\r\n"
        )
        self.transport.write(head.encode() + body)
        self.transport.close()


_REASONS = {400: "Bad Request", 408: "Request Timeout", 431: "Request Header Fields Too Large"}


def log_access_policy(settings: HttpSettings) -> None:
    """Say who can use the server. Without a key on an address other machines can reach, a loud
    warning, one line per log record so that no log collector can fold it away: the Docker image
    listens on 0.0.0.0, and a forgotten key there hands the model and the sandbox to the network.
    The keys themselves are never logged, only how many there are."""
    address = f"{settings.host}:{settings.port}"
    if settings.api_key:
        logger.info(
            "%d API key(s) configured: every endpoint but %s needs one", len(settings.api_key), sorted(OPEN_PATHS)
        )
    elif is_loopback(settings.host):
        logger.info("no API key: serving %s without authentication, reachable from this machine only", address)
    else:
        for line in _OPEN_TO_THE_NETWORK:
            logger.warning(line.format(address=address))


def is_loopback(host: str) -> bool:
    """Whether only this machine can reach ``host``. A host name other than localhost may resolve
    to any address, so it counts as reachable from the network."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
