"""The human review step: a person approves, edits or rejects the checked draft before it is published.

The node pauses with ``interrupt()`` and resumes with one of::

    {"action": "approve"}
    {"action": "edit", "text": "Irene Adler is an opera singer [1]."}   # verified again
    {"action": "reject", "feedback": "Say where she was born."}         # answered again

LangGraph re-runs the whole node on resume, so nothing happens before the interrupt, and the node holds
exactly one.
"""

from __future__ import annotations

from typing import Any, Literal

from langgraph.types import interrupt

from citegraph.agents.answerer import span_key
from citegraph.state import RagState

ACTIONS = ("approve", "edit", "reject")
# Words a person types for "yes" at a prompt (the assistant's approvals accept them, and True).
_YES = ("approve", "approved", "yes", "y", "ok", "accept")


class ReviewError(ValueError):
    """A resume value that is not a valid review decision."""


def parse_decision(value: Any, edit_field: str = "text") -> dict[str, Any]:
    """A human's decision as ``{"action", "text", "feedback"}`` (plus ``edit_field``'s value for an edit
    that carries something else, like the assistant's ``plan``). Accepts ``{"action": ...}``, an action
    name, or True/False and "yes"/"no" for approve/reject; raises ReviewError naming what is wrong."""
    if isinstance(value, bool):
        value = {"action": "approve" if value else "reject"}
    elif isinstance(value, str):
        value = {"action": value.strip().lower()}
    if isinstance(value, dict) and str(value.get("action", "")).lower() in (*_YES, "no", "n", "deny"):
        value = {**value, "action": "approve" if str(value["action"]).lower() in _YES else "reject"}
    if not isinstance(value, dict) or value.get("action") not in ACTIONS:
        raise ReviewError(f"a review decision is {{'action': one of {list(ACTIONS)}, ...}}, got {value!r}")
    action = value["action"]
    edited = value.get(edit_field)
    if action == "edit" and (not edited or (isinstance(edited, str) and not edited.strip())):
        raise ReviewError(f"an edit needs the new {edit_field}: {{'action': 'edit', '{edit_field}': ...}}")
    decision = {
        "action": action,
        "text": str(value.get("text", "")),
        "feedback": str(value.get("feedback", "")),
    }
    if edit_field != "text":
        decision[edit_field] = edited
    return decision


def review_request(state: RagState) -> dict[str, Any]:
    """What the reviewer is shown: the question, the draft with its citations, and the verifier's notes."""
    return {
        "type": "review",
        "question": state["question"],
        "answer": state["draft"],
        "verifier_notes": state.get("feedback", ""),
        "actions": list(ACTIONS),
    }


def review(state: RagState) -> dict[str, Any]:
    """Pause for a human decision on the draft: approve publishes it, edit re-verifies the edited text,
    reject answers again with the reviewer's feedback (not offering the rejected sentences again)."""
    decision = parse_decision(interrupt(review_request(state)))
    draft = state["draft"]
    if decision["action"] == "approve":
        return {"review_action": "approve"}
    if decision["action"] == "edit":
        edited = {**draft, "answer": decision["text"].strip(), "abstained": False, "verified": False}
        return {"review_action": "edit", "draft": edited, "edited": True}
    rejected = [span_key(c["source"], c["start"]) for c in draft["citations"]]
    return {
        "review_action": "reject",
        "feedback": decision["feedback"],
        "rejected": [*state.get("rejected", []), *rejected],
        "attempts": 0,
    }


def after_review(state: RagState) -> Literal["answer", "verify", "finalize"]:
    """Approved: publish; edited: verify the reviewer's text; rejected: answer again."""
    return {"approve": "finalize", "edit": "verify", "reject": "answer"}[state["review_action"]]
