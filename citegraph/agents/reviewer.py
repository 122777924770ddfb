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

from langgraph.types import Command, interrupt

from citegraph.agents.answerer import span_key
from citegraph.state import RagState

ACTIONS = ("approve", "edit", "reject")


class ReviewError(ValueError):
    """A resume value that is not a valid review decision."""


def parse_decision(value: Any) -> dict[str, str]:
    """Validate a resume value; raise ReviewError naming what is wrong."""
    if isinstance(value, str):
        value = {"action": value}
    if not isinstance(value, dict) or value.get("action") not in ACTIONS:
        raise ReviewError(f"a review decision is {{'action': one of {list(ACTIONS)}, ...}}, got {value!r}")
    action = value["action"]
    if action == "edit" and not str(value.get("text", "")).strip():
        raise ReviewError("an edit needs the new answer text: {'action': 'edit', 'text': '...'}")
    return {"action": action, "text": str(value.get("text", "")), "feedback": str(value.get("feedback", ""))}


def review_request(state: RagState) -> dict[str, Any]:
    """What the reviewer is shown: the question, the draft with its citations, and the verifier's notes."""
    return {
        "type": "review",
        "question": state["question"],
        "answer": state["draft"],
        "verifier_notes": state.get("feedback", ""),
        "actions": list(ACTIONS),
    }


def review(state: RagState) -> Command[Literal["answer", "verify", "finalize"]]:
    """Pause for a human decision on the draft: approve publishes it, edit re-verifies the edited text,
    reject answers again with the reviewer's feedback (not offering the rejected sentences again)."""
    decision = parse_decision(interrupt(review_request(state)))
    draft = state["draft"]
    if decision["action"] == "approve":
        return Command(goto="finalize")
    if decision["action"] == "edit":
        edited = {**draft, "answer": decision["text"].strip(), "abstained": False, "verified": False}
        return Command(goto="verify", update={"draft": edited, "edited": True})
    rejected = [span_key(c["source"], c["start"]) for c in draft["citations"]]
    return Command(
        goto="answer",
        update={
            "feedback": decision["feedback"],
            "rejected": [*state.get("rejected", []), *rejected],
            "attempts": 0,
        },
    )
