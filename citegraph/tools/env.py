"""What the document tools work on: the store (and settings) named by the run's context.

Inside a graph, tools receive LangGraph's ``ToolRuntime``; its ``context`` (the assistant's context
dataclass) names the store directory, how many passages to use and the date to report. Outside a graph,
build a :class:`ToolEnv` yourself and call the ``*_impl`` functions, or pass ``runtime=None``.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from langchain_core.tools import ToolException

from citegraph.resources import get_resources
from citegraph.retrieval.manifest import SourceRecord
from citegraph.retrieval.store import HybridStore
from citegraph.settings import Settings


@dataclass
class ToolEnv:
    """Everything the built-in tools need: the store and a few knobs from the run's context."""

    store: HybridStore
    top_k: int = 3
    rag_model: str = "extractive"
    today: str = ""  # ISO date the current_date tool reports; empty: the real date


def env_from_context(context: Any | None) -> ToolEnv:
    """The ToolEnv for a run context (any object with ``store_dir``/``top_k``/``rag_model``/``today``)."""
    store_dir = str(getattr(context, "store_dir", "") or "")
    settings = Settings(store_dir=Path(store_dir)) if store_dir else Settings()
    return ToolEnv(
        store=get_resources(settings).store,
        top_k=int(getattr(context, "top_k", 3) or 3),
        rag_model=str(getattr(context, "rag_model", "extractive") or "extractive"),
        today=str(getattr(context, "today", "") or ""),
    )


def env_from_runtime(runtime: Any | None) -> ToolEnv:
    """The ToolEnv of a tool call (``runtime`` is the injected ToolRuntime, or None outside a graph)."""
    context = getattr(runtime, "context", None) if runtime is not None else None
    if isinstance(context, ToolEnv):
        return context
    return env_from_context(context)


_FILLER = re.compile(
    r"\b(the|a|an|document|documents|source|sources|file|files|book|story|stories|text|called|named|"
    r"titled|from|knowledge|base|store|corpus|library|my|our|your|please)\b",
    re.IGNORECASE,
)


def _norm(text: str) -> str:
    text = Path(text.strip().strip("'\"“”‘’`")).name if "/" in text else text.strip().strip("'\"“”‘’`")
    text = re.sub(r"\.(txt|md|markdown|pdf|html?)$", "", text.lower())
    return " ".join(re.sub(r"[_\-.,:;!?]+", " ", text).split())


def _keys(record: SourceRecord) -> set[str]:
    path = Path(record.path)
    return {k for k in (_norm(record.path), _norm(path.name), _norm(path.stem), _norm(record.title)) if k}


def resolve_source(store: HybridStore, name: str, exact: bool = False) -> SourceRecord:
    """The one source ``name`` means: its path, file name, stem or title (case- and punctuation-blind).

    Unless ``exact``, also a unique substring or close match ("scarlet" -> a_study_in_scarlet.txt).
    Raises a ToolException listing the candidates when nothing or several sources match.
    """
    records = store.sources()
    if not records:
        raise ToolException("the knowledge base is empty: ingest documents first")
    wanted = _norm(name)
    if not wanted:
        raise ToolException("no source named: give a file name or title (see list_sources)")
    matches = [r for r in records if wanted in _keys(r) or r.path == name]
    if not matches and not exact:
        loose = " ".join(_FILLER.sub(" ", wanted).split())
        if loose:
            matches = [r for r in records if any(loose in key for key in _keys(r))]
            if not matches:
                keys = {key: r for r in records for key in _keys(r)}
                close = difflib.get_close_matches(loose, list(keys), n=3, cutoff=0.6)
                matches = list({keys[k].source_id: keys[k] for k in close}.values())
    names = ", ".join(Path(r.path).name for r in records[:20])
    if not matches:
        raise ToolException(f"no source matches {name!r}; the knowledge base holds: {names}")
    if len({r.source_id for r in matches}) > 1:
        which = ", ".join(Path(r.path).name for r in matches)
        raise ToolException(f"{name!r} matches several sources ({which}): name one exactly")
    return store.source(matches[0].source_id) or matches[0]
