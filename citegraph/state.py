"""Typed graph states: the ``rag`` graph's (question in, cited answer out) and the ``assistant``'s (messages
in, a plan of tool calls run step by step, one cited answer out)."""

from __future__ import annotations

import operator
from typing import Annotated, Any, Literal, TypedDict

from langchain_core.messages import AnyMessage
from langgraph.graph.message import add_messages

from citegraph.answers import Answer, Citation
from citegraph.retrieval.fusion import Fused, Ranking
from citegraph.retrieval.multi_query import Variant
from citegraph.retrieval.query import NormalizedQuery
from citegraph.retrieval.store import Hit


class Turn(TypedDict):
    """One finished question and answer of a conversation (the memory a follow-up can refer to)."""

    question: str
    answer: str


def replace_or_extend(left: list[Any] | None, right: list[Any] | None) -> list[Any]:
    """Reducer for per-question lists that parallel branches extend: ``None`` starts the list afresh
    (each new question of a checkpointed thread must not see the previous question's rankings)."""
    if right is None:
        return []
    return (left or []) + right


class RagState(TypedDict, total=False):
    """State of the ``rag`` graph. Input: ``question``; output: ``answer`` (plus the conversation so far)."""

    question: str
    history: Annotated[list[Turn], operator.add]  # finished turns of this thread
    search_question: str  # the question made standalone with the conversation, for retrieval
    query: NormalizedQuery
    variants: list[Variant]
    rankings: Annotated[list[Ranking], replace_or_extend]  # every retrieve branch appends its rankings
    fused: list[Fused]
    hits: list[Hit]
    draft: Answer  # the answer being checked (and shown to a reviewer)
    attempts: int  # answers written for this question (bounded retries)
    feedback: str  # why the last draft was rejected (verifier or reviewer), for the next attempt
    retry: bool  # the verifier sent a generated draft back to be rewritten with its feedback
    review_action: Literal["approve", "edit", "reject"]  # the reviewer's last decision
    rejected: list[str]  # span keys of sentences a reviewer rejected (extract strategy)
    edited: bool  # the draft is a reviewer's edit (verified, then published or shown again)
    # How the client that started this thread configured the run (RagContext fields), so another process
    # (`citegraph resume`, a server worker) can resume it the same way; nodes read runtime.context.
    client_context: dict[str, Any]
    answer: Answer


# The dataclasses the state holds: checkpointers deserialize exactly these (plus LangGraph's safe types).
CHECKPOINT_TYPES = [(cls.__module__, cls.__name__) for cls in (NormalizedQuery, Variant, Ranking, Fused, Hit)]


class Step(TypedDict):
    """One planned tool call. ``args`` may hold ``$stepN.year`` / ``$stepN.value`` references."""

    tool: str
    args: dict[str, Any]


class StepRecord(TypedDict, total=False):
    """One tool call made: the answer JSON's ``steps`` entries are its tool/args/ok."""

    id: str
    tool: str
    args: dict[str, Any]
    ok: bool
    error: str


class AssistantState(TypedDict, total=False):
    """State of the ``assistant`` graph. Input: ``{"messages": [("user", "...")]}``; output: ``answer``."""

    messages: Annotated[list[AnyMessage], add_messages]
    request: str  # the user's latest message
    plan: list[Step]
    notes: list[str]  # what the planner dropped or changed, shown with the answer
    cursor: int  # the next plan step to run
    pending: dict[str, Any] | None  # the tool call dispatch prepared
    steps: list[StepRecord]
    results: dict[str, dict[str, Any]]  # tool call id -> artifact
    approved_calls: list[str]
    call_approved: bool  # the human's decision on the pending sensitive call
    revised: bool
    answer: dict[str, Any]


__all__ = ["Answer", "AssistantState", "Citation", "RagState", "Step", "StepRecord", "Turn"]
