"""Running the ``rag`` graph on checkpointed threads: ask, stream the final answer, stop at a review
interrupt, resume it later from another process. The CLI and the HTTP server both go through here."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from langgraph.graph.state import CompiledStateGraph
from langgraph.types import Command

from citegraph.agents.reviewer import parse_decision
from citegraph.checkpoint import open_checkpointer
from citegraph.context import RagContext
from citegraph.graphs.rag import compile_rag
from citegraph.settings import Settings

# Context fields a client may set; `pipeline` is an in-process object and never persisted.
CONTEXT_FIELDS = [f.name for f in dataclasses.fields(RagContext) if f.name != "pipeline"]


class ThreadError(ValueError):
    """A thread that does not exist or has nothing to resume."""


@dataclass
class RunResult:
    """The outcome of a run: a final answer, or the review interrupt it stopped at."""

    thread_id: str
    answer: dict[str, Any] | None = None
    interrupt: dict[str, Any] | None = None

    def to_json(self) -> dict[str, Any]:
        """The CLI's ``--json`` shape: the answer, or ``{"interrupted": true, "thread_id", "interrupt"}``."""
        if self.interrupt is not None:
            return {"interrupted": True, "thread_id": self.thread_id, "interrupt": self.interrupt}
        return dict(self.answer or {})


@contextmanager
def rag_graph(settings: Settings) -> Iterator[CompiledStateGraph]:
    """The ``rag`` graph compiled with the checkpointer ``settings`` chooses (SQLite by default)."""
    with open_checkpointer(settings) as saver:
        yield compile_rag(saver)


def _config(thread_id: str) -> dict[str, Any]:
    return {"configurable": {"thread_id": thread_id}}


def _run(
    graph: CompiledStateGraph,
    payload: Any,
    thread_id: str,
    context: RagContext,
    on_token: Callable[[str], None] | None,
) -> RunResult:
    for mode, event in graph.stream(
        payload, _config(thread_id), context=context, stream_mode=["custom", "updates"]
    ):
        if mode == "custom" and on_token and isinstance(event, dict) and event.get("event") == "token":
            on_token(event["text"])
    state = graph.get_state(_config(thread_id))
    if state.interrupts:
        return RunResult(thread_id, interrupt=state.interrupts[0].value)
    return RunResult(thread_id, answer=dict(state.values["answer"]))


def ask(
    graph: CompiledStateGraph,
    question: str,
    context: RagContext,
    thread_id: str | None = None,
    on_token: Callable[[str], None] | None = None,
) -> RunResult:
    """Ask on a thread (a new one when ``thread_id`` is None); earlier turns of the thread are memory."""
    thread_id = thread_id or uuid.uuid4().hex
    client_context = {name: getattr(context, name) for name in CONTEXT_FIELDS}
    payload = {"question": question, "client_context": client_context}
    return _run(graph, payload, thread_id, context, on_token)


def pending_interrupt(graph: CompiledStateGraph, thread_id: str) -> dict[str, Any]:
    """The review request a thread waits on; ThreadError when there is none."""
    state = graph.get_state(_config(thread_id))
    if not state.values:
        raise ThreadError(f"no thread {thread_id!r} in this store")
    if not state.interrupts:
        raise ThreadError(f"thread {thread_id!r} is not waiting for a review")
    return state.interrupts[0].value


def resume(
    graph: CompiledStateGraph,
    thread_id: str,
    decision: Any,
    context: RagContext | None = None,
    on_token: Callable[[str], None] | None = None,
) -> RunResult:
    """Answer a thread's pending review with ``decision`` and run on. The run continues with the context
    it was started with (saved in the thread), unless ``context`` is given."""
    pending_interrupt(graph, thread_id)
    parsed = parse_decision(decision)  # refuse a malformed decision before touching the thread
    if context is None:
        saved = graph.get_state(_config(thread_id)).values.get("client_context", {})
        context = RagContext(**{k: v for k, v in saved.items() if k in CONTEXT_FIELDS})
    return _run(graph, Command(resume=parsed), thread_id, context, on_token)
