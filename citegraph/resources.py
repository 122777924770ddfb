"""The small container that builds the heavy objects (store, models) once per process and hands them out.

``shared(key, build)`` is the one process-wide cache: every module that keeps an expensive object per key
(the store per directory, a chat model per spec, a causal LM per path, a LoRA base, the judge per folder)
asks it instead of keeping its own lock and dict. Graph nodes get the store from ``get_resources`` instead
of loading models per call; tests and apps can pass their own.

This module stays import-light (no store, numpy or torch at import time) so that the model modules can use
``shared`` without pulling in retrieval.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar, cast

from citegraph.settings import Settings

if TYPE_CHECKING:
    from citegraph.context import RagContext
    from citegraph.retrieval.pipeline import RetrievalPipeline
    from citegraph.retrieval.store import HybridStore

T = TypeVar("T")

# One lock per key serialises that key's build, so a key is built at most once even when many threads ask
# for it at the same moment (loading a model twice costs seconds and memory), while `_lock` is only held
# for dict look-ups: building one key (a model load, tens of seconds) never blocks callers of another key.
_lock = threading.Lock()
_values: dict[Hashable, Any] = {}
_key_locks: dict[Hashable, threading.Lock] = {}
_generation = 0  # bumped by clear_shared, so a build that was running across a clear is not cached


def shared(key: Hashable, build: Callable[[], T]) -> T:
    """The process-wide object for ``key``, calling ``build()`` the first time (at most once per key).

    Concurrent callers of the same key wait for the one build (a per-key lock); callers of other keys do
    not. If ``build`` raises, nothing is cached and the next caller builds again. ``build`` may ask for
    other keys but must not ask for its own (that would wait on itself). Keys share one namespace, so
    callers prefix them with their own name, e.g. ``("chat_model", spec)``.
    """
    with _lock:
        if key in _values:
            return cast(T, _values[key])
        key_lock = _key_locks.setdefault(key, threading.Lock())
    with key_lock:
        with _lock:
            if key in _values:  # another thread built it while this one waited
                return cast(T, _values[key])
            generation = _generation
        value = build()
        with _lock:
            if generation == _generation:
                # setdefault: a put_shared for this key during the build wins over the built value
                return cast(T, _values.setdefault(key, value))
        return value


def put_shared(key: Hashable, value: Any) -> None:
    """Store ``value`` under ``key``, replacing any earlier one (an app registering its own object,
    e.g. a chat model for a spec name); later ``shared(key, ...)`` calls return it without building."""
    with _lock:
        _values[key] = value


def clear_shared() -> None:
    """Forget every shared object (tests; the objects themselves are left to the garbage collector)."""
    global _generation
    with _lock:
        _values.clear()
        _key_locks.clear()
        _generation += 1


@dataclass
class Resources:
    """Everything a graph run needs that is expensive to build."""

    settings: Settings
    store: HybridStore


def get_resources(settings: Settings | None = None) -> Resources:
    """The shared Resources for ``settings`` (one per store directory in this process)."""
    settings = settings or Settings()
    key = str(settings.store_dir.expanduser().resolve())

    def build() -> Resources:
        from citegraph.retrieval.store import HybridStore

        return Resources(settings=settings, store=HybridStore(settings))

    return shared(("resources", key), build)


# -- the retrieval pipeline a run's context names -----------------------------------------------------
def settings_for(store_dir: str) -> Settings:
    """The Settings a run uses: the given store directory, else the environment's."""
    return Settings(store_dir=store_dir) if store_dir else Settings()


def register_pipeline(name: str, pipeline: RetrievalPipeline) -> None:
    """Make a ready ``RetrievalPipeline`` available to runs whose context names it
    (``RagContext(pipeline=name)``): an app's own pipeline, or an evaluation's variant of one. Registering
    a name again replaces it."""
    if not name:
        raise ValueError("a registered pipeline needs a name")
    put_shared(("registered_pipeline", name), pipeline)


def pipeline_for(context: RagContext) -> RetrievalPipeline:
    """The retrieval pipeline a run uses: the registered one the context names, else the pipeline over the
    context's store, with the context's fusion weights and multi-query switch (caches shared)."""
    base = _base_pipeline(context)
    changes = {
        "bm25_weight": context.bm25_weight,
        "dense_weight": context.dense_weight,
        "multi_query": context.multi_query,
    }
    if all(getattr(base.settings, name) == value for name, value in changes.items()):
        return base

    def build() -> RetrievalPipeline:
        from citegraph.retrieval.pipeline import with_settings

        return with_settings(base, **changes)

    return shared(("pipeline", id(base), *sorted(changes.items())), build)


def _base_pipeline(context: RagContext) -> RetrievalPipeline:
    if context.pipeline:
        with _lock:
            registered = _values.get(("registered_pipeline", context.pipeline))
        if registered is None:
            raise ValueError(f"no retrieval pipeline is registered as {context.pipeline!r}")
        return cast("RetrievalPipeline", registered)
    # Keyed by what Settings would read, so a run does not pay for building Settings (~8 ms, several times
    # a run) once its pipeline exists, and a changed environment still gets its own pipeline.
    environment = tuple(sorted((k, v) for k, v in os.environ.items() if k.startswith("CITEGRAPH_")))

    def build() -> RetrievalPipeline:
        from citegraph.retrieval.pipeline import RetrievalPipeline

        resources = get_resources(settings_for(context.store_dir))
        return RetrievalPipeline(resources.store, resources.settings)

    return shared(("base_pipeline", context.store_dir, environment), build)
