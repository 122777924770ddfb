"""Sentence- and paragraph-aware chunking with exact character spans.

Chunks are built from whole sentences, never cut mid-sentence unless one sentence alone is longer than a
chunk, and prefer to end where a paragraph ends; a fenced code block counts as one sentence, so a chunk
holds it whole when it fits. Every span is exact: ``text[start:end]`` *is* the chunk, so a citation can
point at the very characters it quotes.

We wrote this instead of using LangChain's RecursiveCharacterTextSplitter: that splitter cuts at line
breaks (hard-wrapped books break every 70 characters, mid-sentence) and recovers offsets with
``str.find``, which can land on an earlier duplicate of the chunk.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass

from citegraph.ingest.thai import has_thai, last_word_end, thai_sentence_spans

Span = tuple[int, int]

_PARAGRAPH_BREAK = re.compile(r"\n[ \t]*\n\s*")
# A sentence ends at terminal punctuation (plus closing quotes/brackets) followed by whitespace.
_SENTENCE_END = re.compile(r"[.!?…]+[\"'”’)\]]*(?=\s)|[。！？]+[」』”’)]*")
_ABBREVIATIONS = frozenset(
    "mr mrs ms dr st jr sr prof rev capt col gen lt sgt mt no vs etc fig eq vol pp ed inc ltd co corp "
    "dept approx e.g i.e cf al jan feb mar apr jun jul aug sep sept oct nov dec".split()
)
_WORD_BEFORE = re.compile(r"([\w.]+)$")
# A fenced code block is never split: its lines are not sentences, a blank line inside it ends no paragraph,
# and its opening line (at a line start) and closing fence (at a line end) bound it as a sentence of its own.
_FENCE = re.compile(r"```")
# A list item opening a line starts a sentence, whether or not the item before it ended with a full stop
# ("1. First, explicit targets are searched, if not found" / "2. Then, ..."). A numbered one only in a
# paragraph with two or more: a PDF line may open with the end of a sentence ("... by a factor of" /
# "2. The next ...").
BULLET = r"[*+•‣◦-]"  # a bulleted list item's mark, for every reader of lists
ITEM_NUMBER = r"\d{1,2}[.)]"  # a numbered list item's number ("3.", "2)"), likewise
_ITEM_START = re.compile(rf"^[ \t]*(?:(?P<bullet>{BULLET})|{ITEM_NUMBER})[ \t]+(?=\S)", re.M)


@dataclass(frozen=True)
class ChunkSpan:
    """A chunk's character span and whether it starts a new paragraph."""

    start: int
    end: int


def _strip(text: str, start: int, end: int) -> Span | None:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return (start, end) if end > start else None


def fenced_spans(text: str, start: int = 0, end: int | None = None) -> list[Span]:
    """Spans of the fenced code blocks (```` ``` ```` to ```` ``` ````) of ``text[start:end]``, fences paired
    in order; an unclosed one runs to ``end``."""
    end = len(text) if end is None else end
    fences = [m.start() for m in _FENCE.finditer(text, start, end)]
    return [
        (a, fences[i + 1] + 3 if i + 1 < len(fences) else end) for i, a in enumerate(fences) if i % 2 == 0
    ]


def _inside(position: int, spans: list[Span]) -> bool:
    return any(a < position < b for a, b in spans)


def paragraph_spans(text: str, start: int = 0, end: int | None = None) -> list[Span]:
    """Spans of the paragraphs (blocks separated by blank lines, none inside a code block) of
    ``text[start:end]``."""
    end = len(text) if end is None else end
    code = fenced_spans(text, start, end)
    spans: list[Span] = []
    cursor = start
    for match in _PARAGRAPH_BREAK.finditer(text, start, end):
        if _inside(match.start(), code):
            continue
        if (span := _strip(text, cursor, match.start())) is not None:
            spans.append(span)
        cursor = match.end()
    if (span := _strip(text, cursor, end)) is not None:
        spans.append(span)
    return spans


def _is_sentence_end(text: str, punct_start: int, after: int) -> bool:
    """Reject false ends: abbreviations ("Mr."), initials ("A. Conan"), and lower-case continuations."""
    if text[punct_start] == ".":
        word = _WORD_BEFORE.search(text, max(0, punct_start - 40), punct_start)
        if word:
            token = word.group(1).lower().rstrip(".")
            if token in _ABBREVIATIONS or (len(token) == 1 and token.isalpha()):
                return False
            if token.replace(".", "").isdigit() and after < len(text) and text[after].isdigit():
                return False
    next_char = text[after] if after < len(text) else ""
    return not (next_char.isalpha() and next_char.islower())


def _code_bounds(text: str, code: list[Span], start: int, end: int) -> set[int]:
    """Where code blocks force a sentence break: before a fence opening a line, after one closing a line."""
    bounds = set()
    for a, b in code:
        if a > start and text[a - 1] == "\n":
            bounds.add(a)
        if b < end and text[b] == "\n":
            bounds.add(b)
    return bounds


def _item_starts(text: str, code: list[Span], start: int, end: int) -> set[int]:
    """Where list items force a sentence break: at each item's marker (``_ITEM_START``), outside code."""
    items = [m for m in _ITEM_START.finditer(text, start, end) if not _inside(m.start(), code)]
    numbered = sum(not m["bullet"] for m in items)
    return {m.start() for m in items if m["bullet"] or numbered >= 2}


def sentence_spans(text: str, start: int = 0, end: int | None = None) -> list[Span]:
    """Spans of the sentences in ``text[start:end]``; paragraph breaks always end a sentence, and a code
    block on lines of its own is one sentence (nothing inside a code block ends one)."""
    spans: list[Span] = []
    for p_start, p_end in paragraph_spans(text, start, end):
        if has_thai(text[p_start:p_end]):  # no sentence-final punctuation in Thai: a trained splitter decides
            spans.extend(thai_sentence_spans(text, p_start, p_end))
            continue
        code = fenced_spans(text, p_start, p_end)
        cuts = _code_bounds(text, code, p_start, p_end) | _item_starts(text, code, p_start, p_end)
        for match in _SENTENCE_END.finditer(text, p_start, p_end):
            after = match.end()
            while after < p_end and text[after].isspace():
                after += 1
            if (
                after < p_end
                and not _inside(match.start(), code)
                and _is_sentence_end(text, match.start(), after)
            ):
                cuts.add(match.end())
        cursor = p_start
        for cut in sorted(cuts):
            if (span := _strip(text, cursor, cut)) is not None:
                spans.append(span)
            cursor = cut
        if (span := _strip(text, cursor, p_end)) is not None:
            spans.append(span)
    return spans


def _word_cut(text: str, start: int, limit: int) -> int:
    """Where to cut ``text[start:]`` at or before ``limit`` without splitting a word: the last space in
    the second half, else the last Thai word boundary, else (one unbroken word longer than the chunk) at
    ``limit``, stepped back off combining marks so no letter loses its vowel or tone mark."""
    cut = text.rfind(" ", start + (limit - start) // 2, limit)
    if cut <= start:
        cut = max((text.rfind(c, start + (limit - start) // 2, limit) for c in "\n\t\u200b"), default=-1)
    if cut <= start and has_thai(text[start:limit]):
        cut = last_word_end(text, start, limit) or -1
    if cut <= start:
        cut = limit
        while cut > start + 1 and unicodedata.category(text[cut])[0] == "M":
            cut -= 1
    return cut


def _split_long(text: str, start: int, end: int, size: int) -> Iterator[Span]:
    """Cut a span longer than ``size`` into pieces of at most ``size`` characters, between words."""
    while end - start > size:
        cut = _word_cut(text, start, start + size)
        if (span := _strip(text, start, cut)) is not None:
            yield span
        start = cut
    if (span := _strip(text, start, end)) is not None:
        yield span


def chunk_spans(text: str, size: int, overlap: int, start: int = 0, end: int | None = None) -> list[Span]:
    """Pack whole sentences into chunks of at most ``size`` characters.

    Consecutive chunks share trailing sentences worth up to ``overlap`` characters. A chunk closes early at a
    paragraph end once it is at least half full and the next paragraph would not fit whole.
    """
    units: list[tuple[Span, bool]] = []  # (sentence span, starts a paragraph)
    for p_start, p_end in paragraph_spans(text, start, end):
        first = True
        for s_start, s_end in sentence_spans(text, p_start, p_end):
            for piece in _split_long(text, s_start, s_end, size):
                units.append((piece, first))
                first = False
    paragraph_end_of = {}  # unit index that starts a paragraph -> that paragraph's end offset
    for i, ((_, _), starts) in enumerate(units):
        if starts:
            j = i + 1
            while j < len(units) and not units[j][1]:
                j += 1
            paragraph_end_of[i] = units[j - 1][0][1]

    chunks: list[Span] = []
    i = 0
    while i < len(units):
        chunk_start = units[i][0][0]
        j = i + 1
        while j < len(units):
            (_, u_end), starts = units[j]
            if u_end - chunk_start > size:
                break
            fill = units[j - 1][0][1] - chunk_start
            if starts and fill >= size // 2 and paragraph_end_of[j] - chunk_start > size:
                break
            j += 1
        chunk_end = units[j - 1][0][1]
        chunks.append((chunk_start, chunk_end))
        if j >= len(units):
            break
        # Step back over whole sentences that fit in the overlap, but always move forward.
        k = j
        while k - 1 > i and chunk_end - units[k - 1][0][0] <= overlap:
            k -= 1
        i = k
    return chunks
