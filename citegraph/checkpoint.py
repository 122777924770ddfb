"""The checkpointer the CLI, the server and tests compile graphs with (the exported graphs have none).

``Settings.checkpoint_url`` chooses it with no code change: empty -> ``checkpoints.sqlite`` in the store
directory; a file path -> SQLite there; ``postgresql://...`` -> Postgres (the scale-out path).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.checkpoint.serde.jsonplus import JsonPlusSerializer

from citegraph.settings import Settings
from citegraph.state import CHECKPOINT_TYPES


def serializer() -> JsonPlusSerializer:
    """Checkpoint serde restoring CiteGraph's state types and, beyond those, only LangGraph's safe ones."""
    return JsonPlusSerializer(allowed_msgpack_modules=CHECKPOINT_TYPES)


def sqlite_path(settings: Settings) -> Path:
    """Where the SQLite checkpointer of ``settings`` lives."""
    url = settings.checkpoint_url.strip()
    if url.startswith("sqlite:///"):
        url = url[len("sqlite:///") - 1 :]
    return Path(url).expanduser() if url else settings.store_dir.expanduser() / "checkpoints.sqlite"


# First key of CiteGraph's Postgres advisory locks ("CGLK"), apart from other apps' locks. Second key 0 guards
# the schema setup; the server's per-thread run locks use the others (citegraph/server/locks.py).
ADVISORY_NAMESPACE = 0x43474C4B


def is_postgres(settings: Settings) -> bool:
    """Whether ``settings`` keep checkpoints in Postgres."""
    return settings.checkpoint_url.strip().startswith(("postgres://", "postgresql://"))


@contextmanager
def open_checkpointer(settings: Settings | None = None) -> Iterator[BaseCheckpointSaver]:
    """A ready checkpointer for ``settings``, closed on exit."""
    settings = settings or Settings()
    if is_postgres(settings):
        import psycopg
        from langgraph.checkpoint.postgres import PostgresSaver  # the `postgres` extra

        url = settings.checkpoint_url.strip()
        with PostgresSaver.from_conn_string(url) as saver:
            saver.serde = serializer()
            # Workers starting together would race on CREATE TABLE (a unique violation in pg_type): one at a
            # time; the lock goes with the guard connection.
            with psycopg.connect(url, autocommit=True) as guard:
                guard.execute("SELECT pg_advisory_lock(%s, 0)", (ADVISORY_NAMESPACE,))
                saver.setup()
            yield saver
        return
    from langgraph.checkpoint.sqlite import SqliteSaver

    path = sqlite_path(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    # check_same_thread=False: LangGraph runs nodes in worker threads; SqliteSaver serializes access itself.
    connection = sqlite3.connect(str(path), check_same_thread=False)
    try:
        saver = SqliteSaver(connection, serde=serializer())
        saver.setup()
        yield saver
    finally:
        connection.close()
