"""Query normalization: clean a question without changing what it asks.

``normalize_question`` is the strict cleaner every entry point uses (raises ``QueryError``);
``normalize_query`` adds language detection, optional spelling correction against the corpus vocabulary
and an optional LLM rewrite, and always keeps the cleaned original.
"""

from __future__ import annotations

import difflib
import re
import unicodedata
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

from citegraph.retrieval.multi_query import parse_lines
from citegraph.retrieval.tokenizer import stem

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b\u200e\u200f\u2028-\u202e\u2060-\u2064\ufeff]")
_THAI = re.compile(r"[\u0e00-\u0e7f]")
# NFKC splits Thai SARA AM ("ำ") into NIKHAHIT + SARA AA, which no Thai document is written with: put it back,
# or "สำหรับ" in a question would never match "สำหรับ" in the documents.
_SARA_AM_DECOMPOSED = "\u0e4d\u0e32"
_LATIN = re.compile(r"[a-zA-Z\u00c0-\u024f]")
_LETTER = re.compile(r"[^\W\d_]", re.UNICODE)
_WORD = re.compile(r"[a-z]+")
# Frequent English function words; two or more of them (or a Latin-only text) marks English.
_ENGLISH_HINTS = frozenset(
    "the of and to in is are was were what which who how why when does do did a an for on with by that this "
    "from as be can not or it its has have".split()
)

Language = Literal["en", "th", "other", "unknown"]


class QueryError(ValueError):
    """A question that cannot be searched (empty, or longer than the limit)."""


def normalize_question(text: str, max_chars: int) -> str:
    """NFKC, control and zero-width characters out, whitespace folded; empty or oversized is an error."""
    if not isinstance(text, str):
        raise QueryError(f"the question must be text, not {type(text).__name__}")
    compatible = unicodedata.normalize("NFKC", text).replace(_SARA_AM_DECOMPOSED, "\u0e33")
    cleaned = " ".join(_CONTROL.sub(" ", compatible).split())
    if not cleaned:
        raise QueryError("the question is empty")
    if len(cleaned) > max_chars:
        raise QueryError(
            f"the question is {len(cleaned)} characters long; "
            f"the limit is {max_chars} (CITEGRAPH_MAX_QUERY_CHARS)"
        )
    return cleaned


def detect_language(text: str) -> Language:
    """Script-based language guess: Thai script -> "th"; Latin script -> "en" (other Latin-script languages
    are rare here and search the same way); any other script -> "other"; no letters -> "unknown"."""
    letters = _LETTER.findall(text)
    if not letters:
        return "unknown"
    thai = sum(1 for c in letters if _THAI.match(c))
    latin = sum(1 for c in letters if _LATIN.match(c))
    if thai and thai >= latin * 0.3:
        return "th"
    if latin >= 0.5 * len(letters):
        return "en"
    return "other"


def correct_spelling(
    text: str, vocabulary: Collection[str], key: Callable[[str], str] = str, min_length: int = 5
) -> str:
    """Replace words unknown to the corpus by their closest known word (difflib ratio ≥ 0.85).

    ``vocabulary`` holds the corpus's terms as ``key`` maps words (the BM25 stems when ``key`` is the
    stemmer, so "studies" is known when "studi" is). Short words, numbers and known words are left alone:
    a rare correct term must never be "fixed" into a frequent wrong one.
    """
    if not vocabulary:
        return text
    vocab = vocabulary if isinstance(vocabulary, set | frozenset | dict) else set(vocabulary)
    candidates: list[str] | None = None

    def fix(match: re.Match[str]) -> str:
        nonlocal candidates
        word = match.group(0)
        term = key(word.lower())
        if len(word) < min_length or term in vocab:
            return word
        candidates = candidates if candidates is not None else [v for v in vocab if v.isalpha()]
        close = difflib.get_close_matches(term, candidates, n=1, cutoff=0.85)
        return close[0] if close else word

    return re.sub(r"[A-Za-z]+", fix, text)


_REWRITE_PROMPT = (
    "Rewrite the search question below so that a search engine finds the passages that answer it. "
    "Keep every name, number and technical term; do not answer it. "
    "Reply with the rewritten question only.\n\n"
    "Question: {question}"
)


def llm_rewrite(question: str, model: BaseChatModel, max_chars: int) -> str | None:
    """One rewritten question from a chat model, or None when the reply is unusable."""
    try:
        reply = model.invoke(_REWRITE_PROMPT.format(question=question))
    except Exception:  # a flaky model must never break search: the original query still runs
        return None
    lines = parse_lines(str(getattr(reply, "content", reply)), max_chars)
    return lines[0] if lines else None


@dataclass
class NormalizedQuery:
    """The cleaned question and what the normalizer learned about it."""

    original: str
    language: Language
    corrected: str | None = None
    rewritten: str | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def variants(self) -> list[str]:
        """The original first, then the corrected and rewritten forms when they differ."""
        out = [self.original]
        for text in (self.corrected, self.rewritten):
            if text and text.casefold() not in {o.casefold() for o in out}:
                out.append(text)
        return out


# What a question names exactly: a command-line option ("--workers", "-M"), code in backticks, a quoted
# phrase, a snake_case identifier. The bi-encoder and the judge read "--reload" as the word "reload", so a
# sentence about reloading in general outranks "The `--reload` and `--workers` arguments are mutually
# exclusive."; a sentence that answers about a named thing names it (or the sentence before it does).
OPTION = re.compile(r"(?<![\w-])--?[A-Za-z][\w-]*")  # not the "-store" of "column-store"
NAMED = re.compile(
    OPTION.pattern + r"|`([^`]+)`|\"([^\"]+)\"|“([^”]+)”"  # code, a quoted phrase
    r"|\b[A-Za-z]\w*_\w+"  # an identifier: HTTP_PROXY, max_age
)


def named_terms(question: str) -> list[str]:
    """The exact names ``question`` gives (``NAMED``), once each, the quotes around them and the
    punctuation at their ends left out; lower-cased but for options, which are case-sensitive ("-H" is
    not "-h")."""
    found = (next((g for g in m.groups() if g), m.group()) for m in NAMED.finditer(question))
    names = (f.strip(" .,;:!?'") for f in found)
    return list(dict.fromkeys(n if n.startswith("-") else n.lower() for n in names if n))


def holds_name(text: str, name: str) -> bool:
    """Whether ``text`` holds ``name`` (one of ``named_terms``) whole: an option as written, another name
    in any case (a quoted "it" is not found in "with", "--follow" not in "--follow-links")."""
    return (
        re.search(rf"(?<![\w-]){re.escape(name)}(?![\w-])", text if name.startswith("-") else text.lower())
        is not None
    )


def normalize_query(
    text: str,
    max_chars: int,
    vocabulary: Collection[str] | Callable[[], Collection[str]] | None = None,
    chat_model: BaseChatModel | None = None,
) -> NormalizedQuery:
    """Clean ``text`` (raises ``QueryError``), detect its language, and optionally spell-correct
    (English only, against ``vocabulary``) and rewrite it with ``chat_model``."""
    original = normalize_question(text, max_chars)
    if not _LETTER.search(original) and not any(c.isdigit() for c in original):
        raise QueryError("the question has no letters or digits to search for")
    result = NormalizedQuery(original, detect_language(original))
    if vocabulary is not None and result.language == "en":
        vocab = vocabulary() if callable(vocabulary) else vocabulary
        corrected = correct_spelling(original, vocab, key=stem)
        if corrected != original:
            result.corrected = corrected
            result.notes.append(f"spelling: {corrected!r}")
    if chat_model is not None:
        rewritten = llm_rewrite(original, chat_model, max_chars)
        if rewritten:
            result.rewritten = rewritten
    return result
