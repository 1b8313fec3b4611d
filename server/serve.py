"""Running the HTTP server: uvicorn, with graceful draining on SIGTERM."""

from __future__ import annotations

import logging

import uvicorn

from server.app import build_app
from server.settings import ServerSettings


def serve(settings: ServerSettings) -> None:
    """Serve until SIGINT or SIGTERM; in-flight requests get ``graceful_shutdown_s`` to finish.
    Exits non-zero if the model failed to load."""
    logging.getLogger().setLevel(settings.log_level.upper())
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per upstream health check otherwise
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
