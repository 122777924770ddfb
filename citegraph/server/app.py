"""The FastAPI app: OpenAI-compatible chat, CiteGraph's native endpoints, and the web chat page.

``create_app()`` reads Settings (store, checkpointer, Chroma server) and ServerConfig (auth, limits) from the
environment, so ``uvicorn --factory citegraph.server.app:create_app --workers N`` runs N stateless workers
that share the store and the checkpointer (Postgres + a Chroma server for real scale-out).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import Depends, FastAPI
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles

from citegraph.server.config import ServerConfig
from citegraph.server.errors import install_error_handlers
from citegraph.server.graphs import GraphService, GraphSpec, assistant_spec, rag_spec
from citegraph.server.limits import BodyLimitMiddleware, bearer_auth
from citegraph.settings import Settings, force_offline

log = logging.getLogger("citegraph.server")

STATIC = Path(__file__).resolve().parent / "static"
UPLOAD_PATHS = ("/api/sources",)

GraphsFactory = Callable[[Settings, Any], list[GraphSpec]]


def default_graphs(settings: Settings, checkpointer: Any) -> list[GraphSpec]:
    return [rag_spec(settings, checkpointer), assistant_spec(settings, checkpointer)]


def create_app(
    settings: Settings | None = None,
    config: ServerConfig | None = None,
    *,
    graphs: GraphsFactory = default_graphs,
    store: Any = None,
    warm_up: bool = True,
) -> FastAPI:
    """Build the app. ``graphs`` and ``store`` let tests and embedding apps supply their own."""
    force_offline()
    settings = settings or Settings()
    config = config or ServerConfig()

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        from starlette.concurrency import run_in_threadpool

        from citegraph.checkpoint import open_checkpointer

        async with AsyncExitStack() as stack:
            saver = stack.enter_context(open_checkpointer(settings))
            if store is None:
                from citegraph.resources import get_resources

                # Registered per store directory: the graphs' nodes find this same store (built from these
                # Settings, so with their Chroma server and model) through get_resources.
                app.state.store = get_resources(settings).store
            else:
                app.state.store = store
            app.state.service = GraphService(settings, saver, graphs(settings, saver))
            if warm_up:
                await run_in_threadpool(_warm_up, app.state.store)
            log.info("citegraph serving %s from %s", ", ".join(app.state.service.specs), settings.store_dir)
            yield

    app = FastAPI(
        title="CiteGraph",
        summary="Cited answers over your documents: OpenAI-compatible chat, sources, threads, reviews.",
        version="0.1.0",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.config = config
    app.state.started = int(time.time())
    app.state.ingest_lock = threading.Lock()
    install_error_handlers(app)
    app.add_middleware(
        BodyLimitMiddleware,
        json_limit=config.max_body_kb * 1024,
        upload_limit=int(config.max_upload_mb * 1024 * 1024),
        upload_paths=UPLOAD_PATHS,
    )

    from citegraph.server import native_routes, openai_routes

    auth = [Depends(bearer_auth(config.api_key))]
    app.include_router(openai_routes.router, dependencies=auth)
    app.include_router(native_routes.router, dependencies=auth)

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> dict:
        return {"ok": True, "auth": bool(config.api_key)}

    @app.get("/", include_in_schema=False)
    async def index() -> FileResponse:
        return FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-cache"})

    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    return app


def _warm_up(store: Any) -> None:
    """Load the embedding model now, not on the first question."""
    try:
        store.embedder.embed_query("warm up")
    except Exception as error:  # a store without a usable model still serves sources and threads
        log.warning("warm-up failed: %s", error)
