"""Runs the served graphs: one compiled graph per model name, one checkpointer, threads serialized.

Everything here is synchronous (the checkpointers the project uses are sync); the HTTP layer calls it from
worker threads. A run's options (review, strategy, top_k) are stored in its checkpoint metadata so that a
review can be resumed by any worker, even one started after the first died. Runs hold a per-thread lock
shared by all workers (``locks.py``); a thread whose last run stopped mid-way with nobody holding its lock
lost its worker, and goes on from its last checkpoint when the same question is asked again (a client's
retry) or on ``POST /api/threads/{id}/resume``. A request may carry an idempotency key: its retry then goes
on with the run if it was cut off, or gets the finished run's answer back without running it twice.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import queue
import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from langgraph.types import Command

from citegraph.server.errors import ApiError, model_unavailable
from citegraph.server.locks import ThreadLocks, thread_locks_for
from citegraph.settings import Settings

log = logging.getLogger("citegraph.server")

RAG_MODEL = "citegraph-rag"
ASSISTANT_MODEL = "citegraph-assistant"
_OPTIONS_KEY = "citegraph_run"  # configurable key persisted into checkpoint metadata (a JSON string)
_REQUEST_KEY = "citegraph_request"  # the client's idempotency key, persisted the same way


@dataclass
class GraphSpec:
    """How one model name maps onto a compiled graph."""

    name: str
    graph: Any  # a compiled LangGraph graph with a checkpointer
    context: Callable[[dict[str, Any]], Any]  # run options -> the graph's runtime context
    make_input: Callable[[str, Any], dict[str, Any]] = field(
        default=lambda question, context: {"question": question}
    )
    description: str = ""


@dataclass
class RunOutcome:
    """Where a run ended: a finished answer, or a draft waiting for a human review."""

    thread_id: str
    model: str
    status: Literal["completed", "review"]
    answer: dict[str, Any]
    review: dict[str, Any] | None = None
    resumed: bool = False  # went on from the last checkpoint of a run whose worker died
    replayed: bool = False  # a retried request's finished run, returned without running it again


def build_context(cls: type, options: dict[str, Any], settings: Settings) -> Any:
    """An instance of the context dataclass ``cls`` with the options it has fields for."""
    if cls is None or not dataclasses.is_dataclass(cls):
        return None
    names = {f.name for f in dataclasses.fields(cls)}
    values = {k: v for k, v in options.items() if k in names and v is not None}
    if "store_dir" in names:
        values["store_dir"] = str(settings.store_dir)
    return cls(**values)


def rag_spec(settings: Settings, checkpointer: Any) -> GraphSpec:
    from citegraph.context import RagContext
    from citegraph.graphs.rag import compile_rag

    graph = compile_rag(checkpointer)

    def make_input(question: str, context: Any) -> dict[str, Any]:
        # The run's options are saved in the thread so any process (or the CLI) can resume it.
        return {"question": question, "client_context": dataclasses.asdict(context)}

    return GraphSpec(
        RAG_MODEL,
        graph,
        lambda options: build_context(RagContext, options, settings),
        make_input=make_input,
        description="Cited answers from the ingested documents (every sentence carries [n] markers).",
    )


def assistant_spec(settings: Settings, checkpointer: Any) -> GraphSpec:
    """The tool-routing assistant graph: a request is its user message; the human step is the plan
    review, and answers draw on ``top_k`` passages."""
    from citegraph.context import AssistantContext
    from citegraph.graphs.assistant import build_assistant

    def context(options: dict[str, Any]) -> Any:
        return build_context(AssistantContext, {**options, "approve_plan": options.get("review")}, settings)

    return GraphSpec(
        ASSISTANT_MODEL,
        build_assistant().compile(checkpointer=checkpointer),
        context,
        make_input=lambda question, context: {"messages": [{"role": "user", "content": question}]},
        description="Tool-routing planner over the documents; keeps the citations of the steps it used.",
    )


def _answer_from(values: dict[str, Any]) -> dict[str, Any]:
    """The structured answer of a finished run's state (rag: ``answer``; message graphs: the last message)."""
    answer = values.get("answer")
    if isinstance(answer, dict):
        return dict(answer)
    messages = values.get("messages") or []
    text = ""
    if messages:
        last = messages[-1]
        text = getattr(last, "content", None) or (last.get("content") if isinstance(last, dict) else "")
    return {
        "question": values.get("question", ""),
        "answer": str(text or ""),
        "citations": [],
        "abstained": False,
        "verified": False,
    }


def enrich(answer: dict[str, Any]) -> dict[str, Any]:
    """Fill the answer's flags; give each citation (and each of an abstention's closest passages) the
    ``source_id`` the passage endpoint takes."""
    from citegraph.ingest.pipeline import source_id_for

    def with_source_id(c: dict[str, Any]) -> dict[str, Any]:
        return (
            {**c, "source_id": source_id_for(c["source"])}
            if c.get("source") and c.get("chunk_id")
            else dict(c)
        )

    answer = dict(answer)
    answer.setdefault("abstained", False)
    answer.setdefault("verified", False)
    answer["citations"] = [with_source_id(c) for c in answer.get("citations") or []]
    if answer.get("closest"):
        answer["closest"] = [with_source_id(c) for c in answer["closest"]]
    return answer


def _question_of(values: dict[str, Any]) -> str | None:
    """The question a run was asked (rag: ``question``; message graphs: the last human message)."""
    if values.get("question"):
        return str(values["question"])
    for message in reversed(values.get("messages") or []):
        kind = getattr(message, "type", None) or (message.get("role") if isinstance(message, dict) else None)
        if kind in ("human", "user"):
            content = getattr(message, "content", None)
            return str(content if content is not None else message.get("content", ""))
    return None


def _stored_run(snapshot: Any) -> tuple[str | None, dict[str, Any]]:
    """The model name and options a checkpoint's run was started with (from its metadata)."""
    raw = (snapshot.metadata or {}).get(_OPTIONS_KEY)
    try:
        stored = json.loads(raw) if raw else {}
    except ValueError:
        stored = {}
    return stored.get("model"), stored.get("options", {})


def _stopped_mid_way(snapshot: Any) -> bool:
    """Tasks left in the last checkpoint, none waiting for a human or failed: the run was cut off (or is
    still running). ``tasks``, not ``next``: ``next`` leaves out tasks whose results were saved just before
    the worker died, but those results are not in the state until the run goes on."""
    tasks = snapshot.tasks
    return bool(tasks) and not snapshot.interrupts and not any(t.error or t.interrupts for t in tasks)


def _failed(snapshot: Any) -> bool:
    """A step of the last run raised: its task is left in the checkpoint with the error."""
    return any(t.error for t in snapshot.tasks)


def _invalid_question(error: Exception) -> ApiError:
    return ApiError(400, f"invalid question: {error}", code="invalid_question", param="messages")


class GraphService:
    """The served graphs over one checkpointer."""

    def __init__(
        self,
        settings: Settings,
        checkpointer: Any,
        specs: list[GraphSpec],
        locks: ThreadLocks | None = None,
    ) -> None:
        self.settings = settings
        self.checkpointer = checkpointer
        self.specs = {spec.name: spec for spec in specs}
        self.locks = locks or thread_locks_for(settings)

    # -- helpers ------------------------------------------------------------------------------------------
    def spec(self, model: str) -> GraphSpec:
        spec = self.specs.get(model)
        if spec is None:
            hint = " (the assistant graph is not part of this install)" if model == ASSISTANT_MODEL else ""
            raise ApiError(
                404,
                f"the model '{model}' does not exist{hint}; available: {', '.join(sorted(self.specs))}",
                type="invalid_request_error",
                code="model_not_found",
                param="model",
            )
        return spec

    @staticmethod
    def new_thread_id() -> str:
        return f"thread-{uuid.uuid4().hex}"

    @staticmethod
    def _config(
        thread_id: str,
        model: str | None = None,
        options: dict[str, Any] | None = None,
        request_key: str | None = None,
    ) -> dict:
        configurable: dict[str, Any] = {"thread_id": thread_id}
        if model is not None:
            configurable[_OPTIONS_KEY] = json.dumps({"model": model, "options": options or {}})
        if request_key:
            configurable[_REQUEST_KEY] = request_key
        return {"configurable": configurable, "recursion_limit": 100}

    def _outcome(self, spec: GraphSpec, thread_id: str, snapshot: Any = None) -> RunOutcome:
        """Where the thread stands: from ``snapshot`` when the caller has just read it, else read now."""
        if snapshot is None:
            snapshot = spec.graph.get_state(self._config(thread_id))
        for item in snapshot.interrupts or ():
            value = item.value if isinstance(item.value, dict) else {"value": item.value}
            draft = value.get("answer") if isinstance(value.get("answer"), dict) else {}
            return RunOutcome(thread_id, spec.name, "review", enrich(draft), value)
        return RunOutcome(thread_id, spec.name, "completed", enrich(_answer_from(snapshot.values or {})))

    def _run(
        self,
        spec: GraphSpec,
        thread_id: str,
        options: dict,
        on_token=None,
        *,
        question: str | None = None,
        resume: Any = None,
        request_key: str | None = None,
    ) -> None:
        """Run ``question``, or resume a review with ``resume``, or (neither) go on from the checkpoint."""
        from citegraph.agents.reviewer import ReviewError
        from citegraph.errors import ModelNotFoundError
        from citegraph.retrieval.query import QueryError

        config = self._config(thread_id, spec.name, options, request_key)
        context = spec.context(options)
        payload: Any = None  # None: LangGraph goes on with the tasks the last checkpoint left to run
        if question is not None:
            payload = spec.make_input(question, context)
        elif resume is not None:
            payload = Command(resume=resume)
        try:
            if on_token is None:
                spec.graph.invoke(payload, config, context=context)
                return
            for mode, chunk in spec.graph.stream(
                payload, config, context=context, stream_mode=["custom", "updates"]
            ):
                if mode == "custom" and isinstance(chunk, dict) and chunk.get("event") == "token":
                    on_token(str(chunk.get("text", "")))
        except QueryError as error:
            raise _invalid_question(error) from None
        except ReviewError as error:
            raise ApiError(400, f"invalid review decision: {error}", code="invalid_decision") from None
        except ModelNotFoundError as error:
            raise model_unavailable(error) from None

    # -- runs ---------------------------------------------------------------------------------------------
    def ask(
        self,
        model: str,
        question: str,
        thread_id: str,
        options: dict,
        on_token=None,
        request_key: str | None = None,
    ) -> RunOutcome:
        """Ask ``question`` on ``thread_id`` (new or existing); a pending review is an error (409).
        ``request_key`` (an idempotency key) makes a retry of the same request safe."""
        spec = self.spec(model)
        with self.locks.hold(thread_id):
            snapshot = spec.graph.get_state(self._config(thread_id))
            cut_off = _stopped_mid_way(snapshot)  # we hold the lock, so no live worker is running it
            metadata = snapshot.metadata or {}
            if request_key and metadata.get(_REQUEST_KEY) == request_key:
                # A run cut off, or one whose step raised (its client got a 500 and retries), goes on from
                # its last checkpoint: the failed step runs again.
                if cut_off or _failed(snapshot):
                    return self._go_on(spec, thread_id, snapshot, on_token, request_key)
                # A worker killed between saving the input checkpoint and its input leaves a checkpoint of
                # this request with the previous turn's state: that request never ran, so run it below.
                if metadata.get("source") != "input":  # it ran to its end or its review; the reply was lost
                    return replace(self._outcome(spec, thread_id, snapshot), replayed=True)
            self._no_pending_review(snapshot, thread_id)
            if cut_off:
                if _question_of(snapshot.values or {}) == question:
                    # The same question again, as a client retries after its worker died: go on from the
                    # last checkpoint with the run's own options instead of starting over.
                    return self._go_on(spec, thread_id, snapshot, on_token, request_key)
                log.warning("thread %s: a new question replaces a run its worker left mid-way", thread_id)
            self._run(spec, thread_id, options, on_token, question=question, request_key=request_key)
            return self._outcome(spec, thread_id)

    def _go_on(
        self, spec: GraphSpec, thread_id: str, snapshot: Any, on_token=None, request_key: str | None = None
    ) -> RunOutcome:
        """Finish a cut-off run from its last checkpoint, with the options it was started with."""
        _, stored = _stored_run(snapshot)
        self._run(spec, thread_id, stored, on_token, request_key=request_key)
        return replace(self._outcome(spec, thread_id), resumed=True)

    def resume(self, thread_id: str, decision: dict[str, Any]) -> RunOutcome:
        """Resume the review interrupt of ``thread_id`` with ``decision`` (approve, edit or reject)."""
        with self.locks.hold(thread_id):
            spec, snapshot, options = self._thread_run(thread_id)
            if not snapshot.interrupts:
                raise ApiError(409, f"thread '{thread_id}' has no review waiting", code="no_pending_review")
            self._run(spec, thread_id, options, resume=decision)
            return self._outcome(spec, thread_id)

    def go_on(self, thread_id: str) -> RunOutcome:
        """Finish the run a dead worker left mid-way on ``thread_id``, from its last checkpoint."""
        with self.locks.hold(thread_id):
            spec, snapshot, _ = self._thread_run(thread_id)
            if not _stopped_mid_way(snapshot):
                raise ApiError(409, f"thread '{thread_id}' has no unfinished run", code="no_unfinished_run")
            return self._go_on(spec, thread_id, snapshot)

    def stream(
        self, model: str, question: str, thread_id: str, options: dict, request_key: str | None = None
    ) -> Iterator[tuple[str, Any]]:
        """Yield ``("token", text)`` as it runs, then ``("done", RunOutcome)`` or ``("error", ApiError)``.

        The run happens in its own thread, so a client that goes away mid-stream never leaves a half-written
        checkpoint or a held thread lock behind.
        """
        spec = self.spec(model)  # unknown model: raise before the response starts
        events: queue.Queue[tuple[str, Any]] = queue.Queue()

        def work() -> None:
            try:
                outcome = self.ask(
                    spec.name, question, thread_id, options, lambda t: events.put(("token", t)), request_key
                )
                events.put(("done", outcome))
            except ApiError as error:
                events.put(("error", error))
            except Exception as error:
                log.exception("run failed on thread %s", thread_id)
                events.put(
                    ("error", ApiError(500, f"the run failed: {type(error).__name__}", type="server_error"))
                )

        threading.Thread(target=work, name=f"run-{thread_id}", daemon=True).start()
        while True:
            kind, value = events.get()
            yield kind, value
            if kind != "token":
                return

    # -- threads ------------------------------------------------------------------------------------------
    def _thread_run(self, thread_id: str) -> tuple[GraphSpec, Any, dict]:
        """The graph of the last run on ``thread_id``, its state snapshot and the run's options (404 if the
        thread does not exist)."""
        for candidate in self.specs.values():
            snapshot = candidate.graph.get_state(self._config(thread_id))
            if snapshot.created_at is None:
                continue
            model, options = _stored_run(snapshot)
            spec = self.spec(model or candidate.name)
            if spec is not candidate:  # the same checkpoint, read through the graph that wrote it
                snapshot = spec.graph.get_state(self._config(thread_id))
            return spec, snapshot, options
        raise ApiError(404, f"no thread '{thread_id}'", code="thread_not_found")

    def _no_pending_review(self, snapshot: Any, thread_id: str) -> None:
        if snapshot.interrupts:
            raise ApiError(
                409,
                f"thread '{thread_id}' is waiting for a review: approve, edit or reject it first "
                f"(POST /api/threads/{thread_id}/review)",
                code="review_pending",
            )

    def thread(self, thread_id: str) -> dict[str, Any]:
        """The thread's conversation, last answer, any pending review, and whether a run is going on
        (``running``) or was cut off with its worker (``incomplete``: ask again or POST .../resume)."""
        spec, snapshot, options = self._thread_run(thread_id)
        values = snapshot.values or {}
        outcome = self._outcome(spec, thread_id, snapshot)
        status: str = outcome.status
        if _stopped_mid_way(snapshot):
            status = "running" if self.locks.busy(thread_id) else "incomplete"
        return {
            "thread_id": thread_id,
            "model": spec.name,
            "options": options,
            "status": status,
            "pending": [task.name for task in snapshot.tasks],
            "question": values.get("question"),
            "answer": outcome.answer,  # the draft while a review is pending
            "review": outcome.review,
            "history": list(values.get("history") or []),
            "updated_at": snapshot.created_at,
        }
