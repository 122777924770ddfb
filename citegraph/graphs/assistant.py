"""The ``assistant`` graph: a planner routes a request to tools, runs them, and writes one cited answer.

    plan ─► [review_plan] ─► dispatch ─┬─► [approve_call] ─► tools ─► record ─► dispatch ...
                                       ├─► revise (once) ─► dispatch
                                       └─► finalize ─► END

* **plan**: rules + embedding similarity (no LLM), or a chat model (``bind_tools``, else a JSON plan).
  It reads only the user's messages: document text and tool results never reach it, so text inside a
  document cannot choose a tool or change the plan.
* **review_plan** (``approve_plan`` in the context): a human approves, edits or rejects the plan.
* **dispatch** turns the next planned step into a tool call (filling ``$stepN.year`` references from
  earlier results: numbers only); **approve_call** asks a human before any sensitive tool runs;
  **tools** is a ``ToolNode`` (bad arguments, unknown tools and exceptions become error messages;
  transient errors are retried); **record** keeps each call's outcome.
* **revise**: once, from structured outcomes only, may add a step (e.g. search after an abstention).
* **finalize**: one answer; document sentences keep their citations and are re-verified, computed facts
  cite the tool call that produced them.

Exported in ``langgraph.json`` without a checkpointer; :func:`run_assistant` runs it from Python/CLI.
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, Literal, TypedDict

from langchain_core.messages import AIMessage, AnyMessage, HumanMessage, ToolMessage
from langgraph.graph import END, START, StateGraph
from langgraph.graph.message import add_messages
from langgraph.prebuilt import ToolNode
from langgraph.prebuilt.tool_node import ToolCallRequest
from langgraph.runtime import Runtime
from langgraph.types import Command, RetryPolicy, interrupt

from citegraph.agents.planner import LLMPlanner, RulePlanner, Step, check_plan, revise_plan
from citegraph.tools import REGISTRY, ToolRegistry, env_from_context, resolve_source

CHAT_REPLY = (
    "I answer questions about your documents, citing a source for every sentence. Ask me about them, "
    "ask me to find passages, list or summarize the documents, or to do a calculation."
)


class TransientToolError(RuntimeError):
    """A tool failure worth retrying (a store busy with a writer, a model server timing out)."""


@dataclass
class AssistantContext:
    """Run configuration shown in LangGraph Studio."""

    planner_model: str = "extractive"  # "extractive": rules + embeddings; else a model spec (hf:smollm2, ...)
    router: Literal["hybrid", "rules", "embedding"] = "hybrid"  # the no-LLM planner's routing
    approve_plan: bool = False  # ask a human to approve/edit/reject each plan (sensitive calls: always)
    max_steps: int = 5  # tool calls per request, revisions included
    revise: bool = True  # let the planner add steps once after seeing outcomes
    top_k: int = 3  # passages per cited answer
    rag_model: str = "extractive"  # answer model of the cited_answer tool (the rag graph)
    store_dir: str = ""  # empty: Settings' default store
    today: str = ""  # ISO date for current_date (tests, replays); empty: the real date


class StepRecord(TypedDict, total=False):
    """One tool call made: the answer JSON's ``steps`` entries are its tool/args/ok."""

    id: str
    tool: str
    args: dict[str, Any]
    ok: bool
    error: str


class AssistantState(TypedDict, total=False):
    """State of the ``assistant`` graph. Input: ``{"messages": [("user", "...")]}``."""

    messages: Annotated[list[AnyMessage], add_messages]
    request: str
    plan: list[Step]
    notes: list[str]
    cursor: int
    pending: dict[str, Any] | None  # the tool call dispatch prepared
    steps: list[StepRecord]
    results: dict[str, dict[str, Any]]  # tool call id -> artifact
    approved_calls: list[str]
    revised: bool
    answer: dict[str, Any]


def _context(runtime: Runtime[AssistantContext]) -> AssistantContext:
    return runtime.context or AssistantContext()


def _user_turns(state: AssistantState) -> list[str]:
    return [str(m.content) for m in state.get("messages", []) if isinstance(m, HumanMessage)]


_REF = re.compile(r"\$step(\d+)\.(year|value)")
_YEAR = re.compile(r"\b(1[0-9]{3}|20[0-9]{2})\b")


def resolve_references(args: dict[str, Any], steps: Sequence[StepRecord], results: dict) -> dict[str, Any]:
    """Fill ``$stepN.year`` / ``$stepN.value`` in string arguments from earlier results (numbers only:
    a reference can never carry text from a document into a tool call). Raises ValueError."""

    def fill(match: re.Match[str]) -> str:
        n, what = int(match.group(1)), match.group(2)
        if not 1 <= n <= len(steps) or not steps[n - 1].get("ok"):
            raise ValueError(f"step {n} did not succeed, so ${match.group(0)[1:]} is unknown")
        artifact = results.get(steps[n - 1]["id"], {})
        if what == "value" and isinstance(artifact.get("value"), int | float):
            return repr(artifact["value"])
        if what == "year":
            if isinstance(artifact.get("year"), int):
                return str(artifact["year"])
            if not artifact.get("abstained") and (found := _YEAR.search(str(artifact.get("answer", "")))):
                return found.group(1)
        raise ValueError(f"step {n} ({steps[n - 1]['tool']}) gave no {what}")

    return {k: _REF.sub(fill, v) if isinstance(v, str) else v for k, v in args.items()}


# -- nodes -----------------------------------------------------------------------------------------
def make_nodes(registry: ToolRegistry, planner_model: Any | None = None) -> dict[str, Callable[..., Any]]:
    """The node functions over ``registry`` (``planner_model``: a chat model object overriding the spec)."""

    def plan(state: AssistantState, runtime: Runtime[AssistantContext]) -> AssistantState:
        """Plan the tool calls for the user's latest message from the user's own messages only."""
        context = _context(runtime)
        turns = _user_turns(state)
        request = turns[-1] if turns else ""
        history = turns[:-1]
        model = planner_model
        if model is None and context.planner_model.strip().lower() not in ("", "none", "extractive"):
            from citegraph.models.registry import load_chat_model

            model = load_chat_model(context.planner_model)
        notes: list[str] = []
        steps: list[Step] | None = None
        if model is not None:
            steps = LLMPlanner(model, registry).plan(request, history)
            if steps is None:
                notes.append("the planner model's reply was not a plan: planned by rules instead")
        if steps is None:
            embedder = env_from_context(context).store.embedder
            steps = RulePlanner(registry, embedder, router=context.router).plan(request, history)
        steps, dropped = check_plan(steps, registry, request, context.max_steps)
        return {
            "request": request,
            "plan": steps,
            "notes": notes + dropped,
            "cursor": 0,
            "pending": None,
            "steps": [],
            "results": {},
            "approved_calls": [],
            "revised": not context.revise,
        }

    def review_plan(state: AssistantState, runtime: Runtime[AssistantContext]) -> AssistantState:
        """Ask a human to approve, edit or reject the plan (resume with "approve", {"action": "edit",
        "plan": [...]}, or {"action": "reject", "feedback": "..."})."""
        decision = interrupt(
            {"type": "plan_approval", "request": state.get("request", ""), "plan": state.get("plan", [])}
        )
        action, payload = _decision(decision)
        if action == "approve":
            return {}
        if action == "edit":
            edited = payload.get("plan") if isinstance(payload, dict) else None
            if not isinstance(edited, list):
                return {"plan": [], "notes": [*state.get("notes", []), "the edited plan was not a list"]}
            steps = [Step(tool=str(s.get("tool", "")), args=dict(s.get("args") or {})) for s in edited]
            # The human is the user: an edit may add a sensitive step, which still needs call approval.
            return {"plan": steps[: _context(runtime).max_steps]}
        feedback = payload.get("feedback", "") if isinstance(payload, dict) else ""
        note = "the plan was rejected" + (f": {feedback}" if feedback else "")
        return {"plan": [], "notes": [*state.get("notes", []), note]}

    def dispatch(state: AssistantState) -> AssistantState:
        """Turn the next planned step into a tool call (references to earlier results filled in)."""
        cursor, plan_steps = state.get("cursor", 0), state.get("plan", [])
        if cursor >= len(plan_steps):
            return {"pending": None}
        step = plan_steps[cursor]
        call_id = f"call-{len(_user_turns(state))}-{cursor + 1}-{uuid.uuid4().hex[:6]}"
        try:
            args = resolve_references(step["args"], state.get("steps", []), state.get("results", {}))
        except ValueError as error:
            record = StepRecord(id=call_id, tool=step["tool"], args=step["args"], ok=False, error=str(error))
            return {"pending": None, "cursor": cursor + 1, "steps": [*state.get("steps", []), record]}
        call = {"name": step["tool"], "args": args, "id": call_id, "type": "tool_call"}
        return {"pending": call, "messages": [AIMessage(content="", tool_calls=[call])]}

    def approve_call(state: AssistantState, runtime: Runtime[AssistantContext]) -> Command:
        """Ask a human before a sensitive tool runs (resume with "approve" or "reject")."""
        call = state["pending"] or {}
        preview = ""
        if call.get("name") == "remove_source":  # read-only look-up so the human sees what would go
            try:
                record = resolve_source(
                    env_from_context(_context(runtime)).store, str(call["args"].get("source", "")), exact=True
                )
                preview = f"will remove {record.path}"
            except Exception as error:
                preview = f"will fail: {error}"
        decision = interrupt(
            {"type": "tool_approval", "tool": call.get("name"), "args": call.get("args"), "preview": preview}
        )
        action, _ = _decision(decision)
        if action == "approve":
            approved = [*state.get("approved_calls", []), call["id"]]
            return Command(goto="tools", update={"approved_calls": approved})
        rejected = ToolMessage(
            content=f"Error: the user did not approve {call.get('name')}.",
            tool_call_id=call["id"],
            name=call.get("name"),
            status="error",
        )
        return Command(goto="record", update={"messages": [rejected]})

    def record(state: AssistantState) -> AssistantState:
        """Keep the outcome of the call just made: ok or the error the tool reported, and its artifact."""
        call = state["pending"] or {}
        message = next(
            (
                m
                for m in reversed(state.get("messages", []))
                if isinstance(m, ToolMessage) and m.tool_call_id == call.get("id")
            ),
            None,
        )
        ok = message is not None and message.status != "error"
        step = StepRecord(id=call["id"], tool=call["name"], args=call["args"], ok=ok)
        if not ok:
            step["error"] = str(message.content if message else "the tool did not answer")[:500]
        artifact = message.artifact if ok and isinstance(getattr(message, "artifact", None), dict) else {}
        if ok and not artifact:
            artifact = {"text": str(message.content)}  # type: ignore[union-attr]
        return {
            "steps": [*state.get("steps", []), step],
            "results": {**state.get("results", {}), call["id"]: artifact},
            "cursor": state.get("cursor", 0) + 1,
            "pending": None,
        }

    def revise(state: AssistantState, runtime: Runtime[AssistantContext]) -> AssistantState:
        """Revise the plan once from structured outcomes (never document text): e.g. search by keywords
        after a cited answer abstained."""
        outcomes = []
        for step in state.get("steps", []):
            artifact = state.get("results", {}).get(step["id"], {})
            outcomes.append(
                {
                    "tool": step["tool"],
                    "args": step["args"],
                    "ok": step.get("ok", False),
                    "abstained": bool(artifact.get("abstained")),
                    "hits": len(artifact.get("hits", [])) if "hits" in artifact else None,
                }
            )
        room = _context(runtime).max_steps - len(state.get("plan", []))
        extra = [s for s in revise_plan(state.get("request", ""), outcomes) if s["tool"] in registry][
            : max(room, 0)
        ]
        return {"revised": True, "plan": [*state.get("plan", []), *extra]}

    def finalize(state: AssistantState, runtime: Runtime[AssistantContext]) -> AssistantState:
        """Write the answer: document sentences keep (re-verified) citations, computed facts cite the
        tool call that made them; with no steps, a short reply."""
        embedder = env_from_context(_context(runtime)).store.embedder
        answer = compose_answer(state, registry, embedder)
        return {"answer": answer, "messages": [AIMessage(content=answer["answer"])]}

    return {
        "plan": plan,
        "review_plan": review_plan,
        "dispatch": dispatch,
        "approve_call": approve_call,
        "record": record,
        "revise": revise,
        "finalize": finalize,
    }


def _decision(value: Any) -> tuple[str, Any]:
    """("approve" | "edit" | "reject", payload) from a resume value: True/"yes"/"approve", {"action": ...}."""
    if isinstance(value, dict):
        action = str(value.get("action", value.get("type", ""))).lower()
    elif isinstance(value, bool):
        action = "approve" if value else "reject"
    else:
        action = str(value).strip().lower()
    if action in ("approve", "approved", "yes", "y", "ok", "accept"):
        return "approve", value
    if action == "edit":
        return "edit", value
    return "reject", value


# -- the final answer ------------------------------------------------------------------------------
_MARKER = re.compile(r"\[(\d+)\]")
DOCUMENT_TOOLS = ("cited_answer", "search_documents", "summarize_source")


def compose_answer(state: AssistantState, registry: ToolRegistry, embedder: Any) -> dict[str, Any]:
    """The answer JSON of a finished turn (see the module docstring)."""
    from citegraph.agents.prompts import ABSTAIN_TEXT
    from citegraph.agents.verifier import Verifier

    verifier = Verifier(embedder)
    sentences: list[str] = []
    citations: list[dict[str, Any]] = []
    verified = True
    used_documents = False
    abstentions = 0
    steps = state.get("steps", [])
    for k, step in enumerate(steps, start=1):
        artifact = state.get("results", {}).get(step["id"], {})
        if not step.get("ok"):
            error = str(step.get("error", "unknown error")).removeprefix("Error: ").rstrip(".")
            sentences.append(f"Step {k} ({step['tool']}) failed: {error}.")
            continue
        if step["tool"] in DOCUMENT_TOOLS or "citations" in artifact:
            if artifact.get("abstained") or not artifact.get("citations"):
                abstentions += 1
                what = step["args"].get("question") or step["args"].get("query") or step["args"]
                sentences.append(f"On “{what}”: {ABSTAIN_TEXT}")
                continue
            quotes = {c["n"]: c["quote"] for c in artifact["citations"]}
            check = verifier.verify(str(artifact.get("answer", "")), quotes)
            verified = verified and check.verified
            kept = check.supported_text
            if not kept:
                abstentions += 1
                continue
            used_documents = True
            renumber: dict[int, int] = {}
            for old in dict.fromkeys(int(m) for m in _MARKER.findall(kept)):
                if old in quotes:
                    renumber[old] = len(citations) + 1
                    cited = next(c for c in artifact["citations"] if c["n"] == old)
                    citations.append({**cited, "n": renumber[old]})
            sentences.append(_MARKER.sub(lambda m, r=renumber: f"[{r.get(int(m.group(1)), '?')}]", kept))
        else:
            n = len(citations) + 1
            text = str(artifact.get("text") or artifact.get("answer") or "").strip()
            if step["tool"] == "list_sources" and "sources" in artifact:
                names = ", ".join(s["source"].rsplit("/", 1)[-1] for s in artifact["sources"])
                text = f"The knowledge base holds {len(artifact['sources'])} sources: {names}."
            elif step["tool"] == "remove_source":
                text = f"Removed {', '.join(artifact.get('removed', []))} from the knowledge base."
            citations.append(
                {
                    "n": n,
                    "chunk_id": "",
                    "source": f"tool:{step['tool']}",
                    "location": f"step {k}",
                    "quote": text,
                    "start": 0,
                    "end": 0,
                    "tool_call_id": step["id"],
                    "args": step["args"],
                }
            )
            sentences.append(f"{text.rstrip('.')} [{n}].")
    if not steps:
        rejected = [n for n in state.get("notes", []) if "rejected" in n]
        sentences.append(rejected[0].capitalize() + "." if rejected else CHAT_REPLY)
    abstained = bool(steps) and not citations and abstentions > 0
    return {
        "question": state.get("request", ""),
        "answer": " ".join(sentences) if not abstained else ABSTAIN_TEXT,
        "citations": citations,
        "abstained": abstained,
        "verified": verified and not abstained,
        "used_documents": used_documents,
        "steps": [{"tool": s["tool"], "args": s["args"], "ok": bool(s.get("ok"))} for s in steps],
        "notes": list(state.get("notes", [])),
    }


# -- tool execution --------------------------------------------------------------------------------
def _tool_error(error: Exception) -> str:
    """Every tool error becomes a message, except transient ones (re-raised so the wrapper retries)."""
    if isinstance(error, TransientToolError):
        raise error
    return f"Error: {type(error).__name__}: {error}"


def _retry_transient(request: ToolCallRequest, execute: Callable[[ToolCallRequest], Any]) -> Any:
    """Retry a tool call that failed transiently (3 attempts, 0.2 s then 0.4 s apart), then report it."""
    for attempt in range(3):
        try:
            return execute(request)
        except TransientToolError as error:
            if attempt == 2:
                return ToolMessage(
                    content=f"Error: {error} (after 3 attempts)",
                    tool_call_id=request.tool_call["id"],
                    name=request.tool_call["name"],
                    status="error",
                )
            time.sleep(0.2 * 2**attempt)
    raise AssertionError("unreachable")


# -- routing ---------------------------------------------------------------------------------------
def build_assistant(registry: ToolRegistry | None = None, planner_model: Any | None = None) -> StateGraph:
    """The assistant's StateGraph over ``registry`` (default: the built-in tools); compile it yourself."""
    registry = registry or REGISTRY
    nodes = make_nodes(registry, planner_model)

    def after_plan(state: AssistantState, runtime: Runtime[AssistantContext]) -> str:
        return "review_plan" if _context(runtime).approve_plan and state.get("plan") else "dispatch"

    def after_dispatch(state: AssistantState) -> str:
        call = state.get("pending")
        if call:
            return "approve_call" if registry.is_sensitive(call["name"]) else "tools"
        if state.get("cursor", 0) < len(state.get("plan", [])):
            return "dispatch"  # a step whose references could not be filled was recorded as failed
        return "finalize" if state.get("revised") else "revise"

    builder = StateGraph(AssistantState, context_schema=AssistantContext)
    flaky = RetryPolicy(max_attempts=3, initial_interval=0.5, retry_on=(ConnectionError, TimeoutError))
    builder.add_node("plan", nodes["plan"], retry_policy=flaky)
    builder.add_node("review_plan", nodes["review_plan"])
    builder.add_node("dispatch", nodes["dispatch"])
    builder.add_node("approve_call", nodes["approve_call"], destinations=("tools", "record"))
    builder.add_node(
        "tools",
        ToolNode(registry.tools(), handle_tool_errors=_tool_error, wrap_tool_call=_retry_transient),
    )
    builder.add_node("record", nodes["record"])
    builder.add_node("revise", nodes["revise"])
    builder.add_node("finalize", nodes["finalize"])
    builder.add_edge(START, "plan")
    builder.add_conditional_edges("plan", after_plan, ["review_plan", "dispatch"])
    builder.add_edge("review_plan", "dispatch")
    builder.add_conditional_edges(
        "dispatch", after_dispatch, ["approve_call", "tools", "dispatch", "revise", "finalize"]
    )
    builder.add_edge("tools", "record")
    builder.add_edge("record", "dispatch")
    builder.add_edge("revise", "dispatch")
    builder.add_edge("finalize", END)
    return builder


def recursion_limit(max_steps: int) -> int:
    """Supersteps a turn may take: plan, review, and per step dispatch/approve/tools/record, with slack."""
    return 4 * max_steps + 12


def run_assistant(
    question: str,
    thread_id: str | None = None,
    checkpointer: Any | None = None,
    context: AssistantContext | None = None,
    approve: Callable[[dict[str, Any]], Any] | None = None,
    graph: Any | None = None,
) -> dict[str, Any]:
    """Ask the assistant one question; returns the answer JSON with ``steps`` (tool, args, ok).

    Approvals: ``approve(payload)`` is called for each interrupt and returns the resume value ("approve",
    "reject", or for plans {"action": "edit", "plan": [...]}). Without ``approve``, the run stops at the
    first approval and the JSON carries ``"pending": payload`` and ``thread_id`` (resume it later with the
    same checkpointer and ``Command(resume=...)``); a sensitive call never runs unapproved.
    Without a checkpointer, an in-memory one is used for this call.
    """
    from langgraph.checkpoint.memory import InMemorySaver

    context = context or AssistantContext()
    thread_id = thread_id or uuid.uuid4().hex
    if graph is None:
        graph = build_assistant().compile(checkpointer=checkpointer or InMemorySaver())
    config = {"configurable": {"thread_id": thread_id}, "recursion_limit": recursion_limit(context.max_steps)}
    payload: Any = {"messages": [HumanMessage(question)]}
    while True:
        state = graph.invoke(payload, config=config, context=context)
        interrupts = state.get("__interrupt__") or []
        if not interrupts:
            return {**state["answer"], "thread_id": thread_id}
        request = interrupts[0].value
        if approve is None:
            done = [{"tool": s["tool"], "args": s["args"], "ok": bool(s.get("ok"))} for s in state["steps"]]
            return {"question": question, "pending": request, "steps": done, "thread_id": thread_id}
        payload = Command(resume=approve(request))


builder = build_assistant()
graph = builder.compile()
graph.name = "assistant"
