"""The tool caller: runs the plan one step at a time — a tool call per step, a human's approval before a
sensitive one, the outcome of each kept for the next steps and the final answer.

    dispatch ─┬─► [approve_call] ─► tools (ToolNode) ─► record ─► dispatch ...
              └─► revise (once) / finalize when the plan is done

References between steps (``$step1.year``) carry numbers only: text from a document can never reach a
tool call's arguments.
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Callable, Sequence
from typing import Any, Literal

from langchain_core.messages import AIMessage, ToolMessage
from langgraph.prebuilt.tool_node import ToolCallRequest
from langgraph.runtime import Runtime
from langgraph.types import interrupt

from citegraph.agents.planner import user_turns
from citegraph.agents.reviewer import parse_decision
from citegraph.context import AssistantContext
from citegraph.state import AssistantState, StepRecord
from citegraph.tools import REGISTRY, ToolRegistry, env_from_context, resolve_source

_REF = re.compile(r"\$step(\d+)\.(year|value)")
_YEAR = re.compile(r"\b(1[0-9]{3}|20[0-9]{2})\b")


class TransientToolError(RuntimeError):
    """A tool failure worth retrying (a store busy with a writer, a model server timing out)."""


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


# -- nodes and routes ----------------------------------------------------------------------------------


def dispatch(state: AssistantState) -> dict[str, Any]:
    """Turn the next planned step into a tool call (references to earlier results filled in); a step
    whose references cannot be filled is recorded as failed."""
    cursor, plan_steps = state.get("cursor", 0), state.get("plan", [])
    if cursor >= len(plan_steps):
        return {"pending": None}
    step = plan_steps[cursor]
    call_id = f"call-{len(user_turns(state))}-{cursor + 1}-{uuid.uuid4().hex[:6]}"
    try:
        args = resolve_references(step["args"], state.get("steps", []), state.get("results", {}))
    except ValueError as error:
        record = StepRecord(id=call_id, tool=step["tool"], args=step["args"], ok=False, error=str(error))
        return {"pending": None, "cursor": cursor + 1, "steps": [*state.get("steps", []), record]}
    call = {"name": step["tool"], "args": args, "id": call_id, "type": "tool_call"}
    return {"pending": call, "messages": [AIMessage(content="", tool_calls=[call])]}


def after_dispatch(
    state: AssistantState, registry: ToolRegistry = REGISTRY
) -> Literal["approve_call", "tools", "dispatch", "revise", "finalize"]:
    """A sensitive call waits for a human; another runs; a failed step moves on; a finished plan is
    revised once, then answered."""
    call = state.get("pending")
    if call:
        return "approve_call" if registry.is_sensitive(call["name"]) else "tools"
    if state.get("cursor", 0) < len(state.get("plan", [])):
        return "dispatch"
    return "finalize" if state.get("revised") else "revise"


def approve_call(state: AssistantState, runtime: Runtime[AssistantContext]) -> dict[str, Any]:
    """Ask a human before a sensitive tool runs (resume with "approve" or "reject"); a rejected call is
    answered with an error message in the tool's place."""
    call = state["pending"] or {}
    preview = ""
    if call.get("name") == "remove_source":  # read-only look-up so the human sees what would go
        try:
            store = env_from_context(runtime.context or AssistantContext()).store
            preview = (
                f"will remove {resolve_source(store, str(call['args'].get('source', '')), exact=True).path}"
            )
        except Exception as error:
            preview = f"will fail: {error}"
    decision = parse_decision(
        interrupt(
            {"type": "tool_approval", "tool": call.get("name"), "args": call.get("args"), "preview": preview}
        )
    )
    if decision["action"] == "approve":
        return {"call_approved": True, "approved_calls": [*state.get("approved_calls", []), call["id"]]}
    rejected = ToolMessage(
        content=f"Error: the user did not approve {call.get('name')}.",
        tool_call_id=call["id"],
        name=call.get("name"),
        status="error",
    )
    return {"call_approved": False, "messages": [rejected]}


def after_approval(state: AssistantState) -> Literal["tools", "record"]:
    """An approved call runs; a rejected one is recorded as failed."""
    return "tools" if state.get("call_approved") else "record"


def record(state: AssistantState) -> dict[str, Any]:
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


# -- the ToolNode's error handling ------------------------------------------------------------------------


def tool_error_message(error: Exception) -> str:
    """Every tool error becomes a message, except transient ones (re-raised so the wrapper retries)."""
    if isinstance(error, TransientToolError):
        raise error
    return f"Error: {type(error).__name__}: {error}"


def retry_transient(request: ToolCallRequest, execute: Callable[[ToolCallRequest], Any]) -> Any:
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
