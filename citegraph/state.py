"""Typed graph states and the structured answer every entry point returns."""

from __future__ import annotations

from typing import Annotated, TypedDict

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
    """The answer JSON: text with [n] markers, the citations those markers point at, and flags."""

    question: str
    answer: str
    citations: list[Citation]
    abstained: bool


def dedupe_hits(left: list[Hit], right: list[Hit]) -> list[Hit]:
    """Reducer: merge hit lists, keeping the first occurrence of each chunk id."""
    seen = {h.chunk_id for h in left}
    return left + [h for h in right if h.chunk_id not in seen and not seen.add(h.chunk_id)]  # type: ignore[func-returns-value]


class RagState(TypedDict, total=False):
    """State of the ``rag`` graph."""

    question: str
    hits: Annotated[list[Hit], dedupe_hits]
    answer: Answer
