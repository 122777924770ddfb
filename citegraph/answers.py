"""The answer JSON every entry point returns, and the one home of what builds it: citations, the ``[n]``
marker pattern, renumbering and the abstention.

An answer is text whose sentences end in ``[n]`` markers, plus the citations those markers point at; each
citation quotes the exact characters ``source_text[start:end]`` of its source.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import NotRequired, TypedDict

from citegraph.ingest.chunking import BULLET, ITEM_NUMBER
from citegraph.ingest.outline import SourceText, heading_at, line_at
from citegraph.retrieval.query import detect_language
from citegraph.retrieval.tokenizer import words

# What an answer says when the documents do not answer the question, in the question's language
# (``detect_language``; a language without its own text gets English).
ABSTAIN_TEXTS = {"en": "The documents do not say.", "th": "เอกสารไม่ได้กล่าวถึงเรื่องนี้"}
# What a drafted answer becomes when none of its sentences is supported by what it cites: the documents
# may well say something, but this answer cannot be shown as theirs.
UNVERIFIED_TEXTS = {
    "en": "An answer was drafted but could not be verified against the documents, so it is not shown.",
    "th": "มีการร่างคำตอบไว้ แต่ไม่สามารถยืนยันกับเอกสารได้ จึงไม่แสดงคำตอบนั้น",
}
ABSTAIN_TEXT = ABSTAIN_TEXTS["en"]
UNVERIFIED_TEXT = UNVERIFIED_TEXTS["en"]

# A section heading longer than this is shortened (at a word, with an ellipsis) in a citation's location.
HEADING_CHARS = 60

# A citation marker with the space in front of it, so removing markers leaves clean text.
MARKER = re.compile(r"\s*\[(\d+)\]")
# An item of a bulleted list ("* From the `.env` file."): in an answer it starts a line, so the list reads
# as one (a chat window keeps the answer's line breaks).
BULLETED = re.compile(rf"[ \t]*{BULLET}[ \t]+\S")
# Likewise an item of a numbered list ("2. Framework-specific configuration.").
NUMBERED = re.compile(rf"[ \t]*{ITEM_NUMBER}[ \t]+\S")


def joined(sentences: list[str]) -> str:
    """An answer's sentences in one text: a list's item (``BULLETED``, ``NUMBERED``) on a line of its own,
    any other sentence after a space."""
    return "".join(
        ("\n" if BULLETED.match(s) or NUMBERED.match(s) else " ") * (i > 0) + s
        for i, s in enumerate(sentences)
    )


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
    abstention, which makes no claim). ``short_answer``: the phrase that answers (a name, a date), when the
    judge found one inside the cited sentence. ``standalone_question``: what was searched for when a
    follow-up ("How does it handle leader failure?") was rewritten with the conversation (absent otherwise).
    ``closest``: for an abstention over retrieved passages, the sentences the judge found closest to
    answering, best first: where a person can read on. No claim is made from them (the text cites none).
    """

    question: str
    answer: str
    citations: list[Citation]
    abstained: bool
    verified: bool
    short_answer: NotRequired[str]
    standalone_question: NotRequired[str]
    closest: NotRequired[list[Citation]]


def shortened(text: str, limit: int = HEADING_CHARS) -> str:
    """``text`` cut to at most ``limit`` characters at a word boundary, with an ellipsis if cut."""
    if len(text) <= limit:
        return text
    cut = text[: limit - 1].rsplit(" ", 1)[0] if " " in text[: limit - 1] else text[: limit - 1]
    return cut.rstrip(" ,;:–-") + "…"


def location(source_text: str, start: int, end: int, page: int | None) -> str:
    """Where a person finds ``source_text[start:end]``: "p. 5, § 5.2 Leader election" for a PDF page,
    "§ 2.4 – Metatables and Metamethods, lines 450-452" otherwise.

    The section is the nearest heading before ``start`` and the lines are the original file's; both come
    with a :class:`SourceText` (what the manifest returns). A plain ``str`` has no section, and its lines
    are its own (how citations of stores written before outlines existed read).
    """
    headings = source_text.headings if isinstance(source_text, SourceText) else ()
    line_map = source_text.line_map if isinstance(source_text, SourceText) else ()
    heading = heading_at(headings, start)
    section = f"§ {shortened(heading.title)}" if heading else ""
    if page is not None:
        return f"p. {page}, {section}" if section else f"p. {page}"
    first = line_at(source_text, line_map, start)
    last = line_at(source_text, line_map, max(start, end - 1))
    lines = f"line {first}" if first == last else f"lines {first}-{last}"
    return f"{section}, {lines}" if section else lines


def cite(
    n: int, chunk_id: str, source: str, source_text: str, start: int, end: int, page: int | None
) -> Citation:
    """Citation [n] of ``source_text[start:end]`` (the chunk it came from, for the location's page)."""
    return Citation(
        n=n,
        chunk_id=chunk_id,
        source=source,
        location=location(source_text, start, end, page),
        quote=source_text[start:end],
        start=start,
        end=end,
    )


def in_language_of(question: str, texts: dict[str, str]) -> str:
    """The one of ``texts`` (language -> text) in ``question``'s language, else the English one."""
    return texts.get(detect_language(question), texts["en"])


def abstention(question: str, texts: dict[str, str] = ABSTAIN_TEXTS) -> Answer:
    """The answer that makes no claim, in the question's language: the documents do not answer the
    question (or, with ``UNVERIFIED_TEXTS``, the drafted answer could not be verified)."""
    text = in_language_of(question, texts)
    return Answer(question=question, answer=text, citations=[], abstained=True, verified=False)


def says_documents_do_not_answer(text: str) -> bool:
    """Whether ``text`` (a model's reply, a previous answer) is or contains an abstention, in any of
    our languages ("do not say" covers a model's rewording of the English one)."""
    plain = " ".join(strip_markers(text).split()).lower()
    return (
        not plain
        or "do not say" in plain
        or any(a.lower().rstrip(".") in plain for a in ABSTAIN_TEXTS.values())
    )


def markers(text: str) -> list[int]:
    """The marker numbers of ``text`` in order of appearance (repeats kept)."""
    return [int(m) for m in MARKER.findall(text)]


# A sentence of fewer words is a fragment, not a claim: a label ("Keep-Alive.") or a bare phrase ("GFS
# masters [2]."), which occurs verbatim in its source and still says nothing.
MIN_CLAIM_WORDS = 3


def is_fragment(text: str) -> bool:
    """Whether ``text`` (markers aside) has fewer than ``MIN_CLAIM_WORDS`` words (Thai counted in segmented
    words)."""
    return len(words(strip_markers(text))) < MIN_CLAIM_WORDS


# How a sentence introducing what follows it ends: a colon, or (in HTTPX's and Starlette's docs, "You can
# still enable behaviour to automatically follow redirects, but you need to do so explicitly..." right
# before the code that does it) an ellipsis.
INTRODUCTION_END = re.compile(r"(?::|\.\.\.|…)\Z")


def introduces_next(sentence: str) -> bool:
    """Whether ``sentence`` ends as one introducing what follows it (``INTRODUCTION_END``)."""
    return INTRODUCTION_END.search(sentence) is not None


def strip_markers(text: str) -> str:
    """``text`` without its [n] markers."""
    return MARKER.sub("", text)


def swap_markers(text: str, new: Callable[[int], int | str]) -> str:
    """``text`` with each marker [n] replaced by [new(n)] (the space before it kept)."""

    def swap(match: re.Match[str]) -> str:
        n = int(match.group(1))
        return match.group(0).replace(f"[{n}]", f"[{new(n)}]")

    return MARKER.sub(swap, text)


def renumbered(answer: Answer, first: int = 1) -> Answer:
    """Markers renumbered ``first``, ``first + 1``, ... in order of first use, citations in that order,
    unused ones dropped; a marker naming no citation is left as it is."""
    by_n = {c["n"]: c for c in answer["citations"]}
    order: dict[int, int] = {}
    for n in markers(answer["answer"]):
        if n in by_n and n not in order:
            order[n] = first + len(order)
    text = swap_markers(answer["answer"], lambda n: order.get(n, n))
    citations = [Citation(**{**by_n[old], "n": new}) for old, new in order.items()]  # type: ignore[typeddict-item]
    return Answer(**{**answer, "answer": text, "citations": citations})  # type: ignore[typeddict-item]
