"""Typed graph states and the structured answer every entry point returns."""

from __future__ import annotations

import operator
from typing import Annotated, Any, TypedDict

from citegraph.agents.multi_query import Variant
from citegraph.agents.normalizer import NormalizedQuery
from citegraph.retrieval.fusion import Fused, Ranking
from citegraph.retrieval.store import Hit


class Citation(TypedDict):
    """One numbered source of an answer: ``quote == source_text[start:end]``."""

    n: int
    chunk_id: str
    source: str
    location: str
    quote: str
    start: int
    end: int


class Answer(TypedDict):
    """The answer JSON: text with [n] markers, the citations those markers point at, and flags.

    ``verified``: every sentence was checked against what it cites and is supported (False for an
    abstention, which makes no claim).
    """

    question: str
    answer: str
    citations: list[Citation]
    abstained: bool
    verified: bool


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
    rejected: list[str]  # span keys of sentences a reviewer rejected (extract strategy)
    edited: bool  # the draft is a reviewer's edit (verified, then published or shown again)
    # How the client that started this thread configured the run (RagContext fields), so another process
    # (`citegraph resume`, a server worker) can resume it the same way; nodes read runtime.context.
    client_context: dict[str, Any]
    answer: Answer


# The dataclasses the state holds: checkpointers deserialize exactly these (plus LangGraph's safe types).
CHECKPOINT_TYPES = [(cls.__module__, cls.__name__) for cls in (NormalizedQuery, Variant, Ranking, Fused, Hit)]
