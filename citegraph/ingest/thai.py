"""Thai sentences and word boundaries as character spans, from PyThaiNLP (offline, bundled models).

Thai is written without spaces between words and without sentence-final punctuation: a space marks a
pause that may or may not end a sentence. PyThaiNLP's ``crfcut`` (a CRF trained on Thai sentence
boundaries) decides which spaces end sentences, and ``newmm`` (dictionary maximal matching) finds the
words, so a chunk cut inside a long sentence falls between words.
"""

from __future__ import annotations

import re
from functools import lru_cache

THAI_RUN = re.compile(r"[\u0e00-\u0e7f]+")
# A line of at most this many words is a label (a heading, "มาตรา ๒"): a sentence of its own.
LABEL_WORDS = 3
# A line opening with a numbered section ("มาตรา ๒๑ ลิขสิทธิ์ในงานภาพถ่าย...", "ข้อ ๕ ..."): Thai digits after a
# short word, as Acts and regulations number their sections; the sentence before never runs into it.
_SECTION_START = re.compile(r"^\s*[\u0e01-\u0e4e]{1,12}\s+[๐-๙]+")
# How far past a cut the word segmenter reads to see where the word at the cut ends.
LOOKAHEAD = 40
# A piece ending in a Thai abbreviation ("พ.ศ.", "ป.ร.", "ฯลฯ."): crfcut ends sentences there, wrongly.
_ABBREVIATION_END = re.compile(r"(?:^|[\s(])(?:[\u0e01-\u0e2e][\u0e30-\u0e4e]*\.)+$")


def has_thai(text: str) -> bool:
    """Whether ``text`` contains Thai script."""
    return THAI_RUN.search(text) is not None


def _spans_of(text: str, pieces: list[str], offset: int) -> list[tuple[int, int]]:
    """Where each of ``pieces`` (consecutive substrings of ``text``, in order) sits, shifted by
    ``offset``; whitespace around a piece is not part of its span."""
    spans = []
    cursor = 0
    for piece in pieces:
        core = piece.strip()
        if not core:
            continue
        at = text.find(core, cursor)
        if at < 0:  # the segmenter changed the text (it should not): the rest is one span, none is lost
            rest = text[cursor:]
            if rest.strip():
                lead = len(rest) - len(rest.lstrip())
                spans.append((offset + cursor + lead, offset + len(text.rstrip())))
            break
        spans.append((offset + at, offset + at + len(core)))
        cursor = at + len(core)
    return spans


def _crfcut_spans(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """crfcut's sentences of ``text[start:end]`` as spans of ``text``, with a sentence that ends in an
    abbreviation joined to the next."""
    from pythainlp.tokenize import sent_tokenize

    spans = _spans_of(text[start:end], sent_tokenize(text[start:end], engine="crfcut"), start)
    merged: list[tuple[int, int]] = []
    for a, b in spans:
        if merged and _ABBREVIATION_END.search(text[merged[-1][0] : merged[-1][1]]):
            merged[-1] = (merged[-1][0], b)
        else:
            merged.append((a, b))
    return merged


def _is_label(line: str) -> bool:
    """A line of at most ``LABEL_WORDS`` words ("มาตรา ๒", "หมายเหตุ"): a heading or a section number,
    never part of the sentence after it."""
    from pythainlp.tokenize import word_tokenize

    return len([w for w in word_tokenize(line, engine="newmm") if w.strip()]) <= LABEL_WORDS


@lru_cache(maxsize=4096)
def _sentences(text: str) -> tuple[tuple[int, int], ...]:
    # Cached by text: the answer step splits the same retrieved chunks again on every question.
    sentences: list[tuple[int, int]] = []
    block_start = None  # start of the run of lines since the last label, split by crfcut as one text
    cursor = 0
    for line in text.splitlines(keepends=True):
        start, end = cursor, cursor + len(line)
        cursor = end
        if not line.strip() or not _is_label(line):
            if block_start is not None and _SECTION_START.match(line):
                sentences += _crfcut_spans(text, block_start, start)  # "มาตรา ๒๑ ..." starts afresh
                block_start = None
            block_start = start if block_start is None else block_start
            continue
        if block_start is not None:
            sentences += _crfcut_spans(text, block_start, start)
            block_start = None
        sentences += _spans_of(text[start:end], [line], start)
    if block_start is not None:
        sentences += _crfcut_spans(text, block_start, len(text))
    return tuple(sentences)


def thai_sentence_spans(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """Spans (offsets into ``text``) of the sentences of ``text[start:end]``, a passage with Thai in it."""
    return [(start + a, start + b) for a, b in _sentences(text[start:end])]


@lru_cache(maxsize=1024)
def _word_ends(text: str) -> tuple[int, ...]:
    from pythainlp.tokenize import word_tokenize

    ends, cursor = [], 0
    for word in word_tokenize(text, engine="newmm", keep_whitespace=True):
        cursor += len(word)
        ends.append(cursor)
    return tuple(ends)


def last_word_end(text: str, start: int, limit: int) -> int | None:
    """The last word boundary after ``start`` and at or before ``limit`` (Thai segmented into words), or
    None when the first word alone runs past ``limit``."""
    # Segment past ``limit``: maximal matching needs the text after a word to see where it ends
    # ("เชียง|ใหม่" cut short would look like the word "เชียง").
    window_end = min(len(text), limit + LOOKAHEAD)
    ends = [start + e for e in _word_ends(text[start:window_end])]
    if window_end < len(text):
        ends = ends[:-1]  # the window's last word may be cut by the window itself
    safe = [e for e in ends if start < e <= limit]
    return safe[-1] if safe else None
