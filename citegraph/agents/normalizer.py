"""The query normalizer: clean a question without changing what it asks."""

from __future__ import annotations

import re
import unicodedata

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b\u200e\u200f\u2028-\u202e\u2060-\u2064\ufeff]")


class QueryError(ValueError):
    """A question that cannot be searched (empty, or longer than the limit)."""


def normalize_question(text: str, max_chars: int) -> str:
    """NFKC, control and zero-width characters out, whitespace folded; empty or oversized is an error."""
    if not isinstance(text, str):
        raise QueryError(f"the question must be text, not {type(text).__name__}")
    cleaned = " ".join(_CONTROL.sub(" ", unicodedata.normalize("NFKC", text)).split())
    if not cleaned:
        raise QueryError("the question is empty")
    if len(cleaned) > max_chars:
        raise QueryError(
            f"the question is {len(cleaned)} characters long; "
            f"the limit is {max_chars} (CITEGRAPH_MAX_QUERY_CHARS)"
        )
    return cleaned
