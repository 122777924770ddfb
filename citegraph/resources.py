"""The small container that builds the heavy objects (store, models) once per Settings and hands them out.

Graph nodes get them from here instead of loading models per call; tests and apps can pass their own.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from citegraph.retrieval.store import HybridStore
from citegraph.settings import Settings


@dataclass
class Resources:
    """Everything a graph run needs that is expensive to build."""

    settings: Settings
    store: HybridStore


_lock = threading.Lock()
_by_store_dir: dict[str, Resources] = {}


def get_resources(settings: Settings | None = None) -> Resources:
    """The shared Resources for ``settings`` (one per store directory in this process)."""
    settings = settings or Settings()
    key = str(settings.store_dir.expanduser().resolve())
    with _lock:
        if key not in _by_store_dir:
            _by_store_dir[key] = Resources(settings=settings, store=HybridStore(settings))
        return _by_store_dir[key]
