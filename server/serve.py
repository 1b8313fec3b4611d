"""Running the HTTP server: uvicorn, with graceful draining on SIGTERM."""

from __future__ import annotations

import ipaddress
import logging

import uvicorn

from server.app import build_app
from server.middleware import OPEN_PATHS
from server.settings import ServerSettings

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
    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level,
        timeout_graceful_shutdown=settings.graceful_shutdown_s,
        access_log=False,
    )
    server = uvicorn.Server(config)
    server.run()
    failure = app.state.runtime.failure
    if failure:
        raise SystemExit(f"potcot: {failure}")


def log_access_policy(settings: ServerSettings) -> None:
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
