"""Running the graphs on checkpointed threads: ask, stream the final answer, stop at a human step (a
review of the ``rag`` graph's draft, an approval of the ``assistant``'s plan or tool call), resume it
later — from another process too. The CLI goes through here; the HTTP server has its own runner."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from langchain_core.messages import HumanMessage
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.graph.state import CompiledStateGraph
from langgraph.types import Command

from citegraph.agents.reviewer import parse_decision
from citegraph.checkpoint import open_checkpointer
from citegraph.context import AssistantContext, RagContext
from citegraph.graphs.assistant import build_assistant
from citegraph.graphs.rag import compile_rag
from citegraph.settings import Settings

# Context fields a client may set, saved in the thread so that another process resumes it the same way.
CONTEXT_FIELDS = [f.name for f in dataclasses.fields(RagContext)]


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
        raise ThreadError(f"thread {thread_id!r} is not waiting for a review or an approval")
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


# -- the assistant -------------------------------------------------------------------------------------


def recursion_limit(max_steps: int) -> int:
    """Supersteps an assistant turn may take: plan, review, and per step dispatch/approve/tools/record,
    with slack."""
    return 4 * max_steps + 12


def is_assistant_thread(checkpointer: BaseCheckpointSaver, thread_id: str) -> bool:
    """Whether a thread of the shared checkpointer belongs to the assistant: its state holds a plan and
    messages, a rag thread's a question. (A graph's ``get_state`` shows only its own channels, so this
    reads the checkpoint itself.)"""
    saved = checkpointer.get_tuple(_config(thread_id))  # type: ignore[arg-type]
    values = saved.checkpoint.get("channel_values", {}) if saved else {}
    return "plan" in values or ("messages" in values and "question" not in values)


def run_assistant(
    question: str | None,
    thread_id: str | None = None,
    checkpointer: Any | None = None,
    context: AssistantContext | None = None,
    approve: Callable[[dict[str, Any]], Any] | None = None,
    graph: Any | None = None,
    decision: Any | None = None,
) -> dict[str, Any]:
    """Ask the assistant one question (or, with ``question=None``, answer the approval its thread waits
    for with ``decision``); returns the answer JSON with ``steps`` (tool, args, ok) and ``thread_id``.

    Approvals: ``approve(payload)`` is called for each interrupt and returns the decision ("approve",
    "reject", or for plans {"action": "edit", "plan": [...]}). Without ``approve``, the run stops at the
    first approval and the JSON carries ``"pending": payload``: resume it later with the same checkpointer,
    ``question=None`` and ``decision``. A sensitive call never runs unapproved. Without a checkpointer, an
    in-memory one is used for this call.
    """
    from langgraph.checkpoint.memory import InMemorySaver

    context = context or AssistantContext()
    thread_id = thread_id or uuid.uuid4().hex
    if graph is None:
        graph = build_assistant().compile(checkpointer=checkpointer or InMemorySaver())
    config = {**_config(thread_id), "recursion_limit": recursion_limit(context.max_steps)}
    payload: Any
    if question is None:
        pending_interrupt(graph, thread_id)
        payload = Command(resume=parse_decision(decision, edit_field="plan"))
    else:
        payload = {"messages": [HumanMessage(question)]}
    while True:
        state = graph.invoke(payload, config=config, context=context)
        interrupts = state.get("__interrupt__") or []
        if not interrupts:
            return {**state["answer"], "thread_id": thread_id}
        request = interrupts[0].value
        if approve is None:
            done = [{"tool": s["tool"], "args": s["args"], "ok": bool(s.get("ok"))} for s in state["steps"]]
            asked = state.get("request", question or "")
            return {"question": asked, "pending": request, "steps": done, "thread_id": thread_id}
        payload = Command(resume=parse_decision(approve(request), edit_field="plan"))
