"""What the document tools work on: the store (and settings) named by the run's context.

Inside a graph, tools receive LangGraph's ``ToolRuntime`` (the ``ToolNode`` injects it; a model never sees
it); its ``context`` (the assistant's context dataclass, a dict with the same keys, or a :class:`ToolEnv`)
names the store directory, how many passages to use and the date to report.

Outside a graph, call a tool directly (``list_sources.invoke({})``, ``runtime`` left out or ``None``): it
then works on the default environment, ``Settings()``'s store, i.e. the directory in the environment
variable ``CITEGRAPH_STORE_DIR`` (or a ``.env`` file; else ``~/.local/share/citegraph/store``). Or build a
:class:`ToolEnv` yourself and call the ``*_impl`` functions.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

from langchain_core.tools import InjectedToolArg, ToolException
from langgraph.prebuilt import ToolRuntime
from pydantic import BaseModel

from citegraph.resources import get_resources, settings_for
from citegraph.retrieval.manifest import SourceRecord
from citegraph.retrieval.store import HybridStore

# The ``runtime`` parameter of the built-in tools: injected by LangGraph's ToolNode (which injects any
# parameter named ``runtime``), hidden from the model's schema (InjectedToolArg), and optional, so that a
# tool invoked directly, outside a graph, runs on the default environment (``ToolRuntime | None`` alone is
# not recognised as injected by langchain-core, hence the explicit marker).
OptionalToolRuntime = Annotated[ToolRuntime | None, InjectedToolArg]


class RuntimeOnly(BaseModel):
    """The input schema of a tool that takes no arguments from the model, only its injected ``runtime``.

    Declared rather than inferred from the signature, so that pydantic does not validate the ToolRuntime
    object on every call (it warns about its generic ``context``) and the schema renders as JSON
    (``get_input_jsonschema``). The field must be there: langchain-core drops the whole input, injected
    arguments included, of a tool whose schema has no fields."""

    runtime: Annotated[Any, InjectedToolArg] = None


@dataclass
class ToolEnv:
    """Everything the built-in tools need: the store and a few knobs from the run's context."""

    store: HybridStore
    top_k: int = 3
    rag_model: str = "extractive"
    today: str = ""  # ISO date the current_date tool reports; empty: the real date


def context_value(context: Any, name: str) -> Any:
    """``name`` of a run context: an attribute, or a key of a dict context; None when absent."""
    if isinstance(context, Mapping):
        return context.get(name)
    return getattr(context, name, None)


def env_from_context(context: Any | None) -> ToolEnv:
    """The ToolEnv for a run context (an object or dict with ``store_dir``/``top_k``/``rag_model``/``today``;
    a missing or empty ``store_dir``, or no context at all, means the default store of ``Settings()``)."""
    if isinstance(context, ToolEnv):
        return context
    store_dir = str(context_value(context, "store_dir") or "")
    return ToolEnv(
        store=get_resources(settings_for(store_dir)).store,
        top_k=int(context_value(context, "top_k") or 3),
        rag_model=str(context_value(context, "rag_model") or "extractive"),
        today=str(context_value(context, "today") or ""),
    )


def env_from_runtime(runtime: ToolRuntime | None) -> ToolEnv:
    """The ToolEnv of a tool call: the injected runtime's context, or (``runtime`` None: a direct call
    outside a graph) the default environment."""
    return env_from_context(getattr(runtime, "context", None) if runtime is not None else None)


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
