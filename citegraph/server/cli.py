"""``citegraph serve``: the HTTP API and web chat page under uvicorn (one or several workers)."""

from __future__ import annotations

import ipaddress
import os
from pathlib import Path
from typing import Annotated

import typer

LOOPBACK_NAMES = {"localhost", "localhost.localdomain", "ip6-localhost"}


def is_loopback(host: str) -> bool:
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def serve(
    host: Annotated[
        str, typer.Option(help="Address to bind; beyond loopback an API key is required.")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.", min=1, max=65535)] = 8000,
    store: Annotated[
        Path | None, typer.Option("--store", help="Store directory (default: CITEGRAPH_STORE_DIR).")
    ] = None,
    api_key: Annotated[
        str | None,
        typer.Option("--api-key", envvar="CITEGRAPH_API_KEY", help="Bearer token clients must send."),
    ] = None,
    no_auth: Annotated[
        bool, typer.Option("--no-auth", help="Serve without an API key even when bound beyond loopback.")
    ] = False,
    workers: Annotated[
        int, typer.Option(help="Worker processes (share the store and checkpointer).", min=1)
    ] = 1,
    review: Annotated[
        bool, typer.Option("--review", help="Pause every answer for a human review by default.")
    ] = False,
    log_level: Annotated[str, typer.Option(help="uvicorn log level.")] = "info",
) -> None:
    """Serve the OpenAI-compatible API (/v1), the native API (/api) and the web chat page (/)."""
    import uvicorn

    if not is_loopback(host) and not api_key and not no_auth:
        typer.echo(
            f"error: binding to {host} exposes the API beyond this machine: pass --api-key (or set "
            "CITEGRAPH_API_KEY), or --no-auth to serve without one",
            err=True,
        )
        raise typer.Exit(2)
    # Workers are separate processes that build the app from the environment.
    if store is not None:
        os.environ["CITEGRAPH_STORE_DIR"] = str(store.expanduser().resolve())
    os.environ["CITEGRAPH_API_KEY"] = "" if no_auth else (api_key or "")
    if review:
        os.environ["CITEGRAPH_SERVER_DEFAULT_REVIEW"] = "true"
    try:
        from citegraph.settings import Settings

        settings = Settings()
    except ValueError as error:
        typer.echo(f"error: invalid settings: {error}", err=True)
        raise typer.Exit(2) from None
    _note_an_empty_store(settings.store_dir)
    typer.echo(f"CiteGraph on http://{host}:{port}/ (OpenAI base URL: http://{host}:{port}/v1)", err=True)
    uvicorn.run(
        "citegraph.server.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level=log_level,
        timeout_graceful_shutdown=10,
    )


def _note_an_empty_store(store_dir: Path) -> None:
    """Say so when the store is missing or empty. Serving it is not refused, as ``ask`` is: the page can
    upload documents into it. But a mistyped --store must not pass silently."""
    import sqlite3

    from citegraph.ingest.pipeline import stored_sources

    try:
        count = stored_sources(store_dir)
    except sqlite3.Error as error:
        typer.echo(f"error: cannot open the store at {store_dir}: {error}", err=True)
        raise typer.Exit(2) from None
    if not count:
        state = "does not exist yet (it is created now)" if count is None else "holds no documents"
        typer.echo(
            f"note: the store at {store_dir} {state}: upload documents on the page, or run "
            f"citegraph ingest --store {store_dir} FILE_OR_FOLDER...",
            err=True,
        )


def register(app: typer.Typer, train_app: typer.Typer, eval_app: typer.Typer) -> None:
    app.command()(serve)
