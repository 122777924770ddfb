"""The visible text of an HTML page, its headings, and where each of its lines is in the file.

The text is what a reader sees: scripts, styles and the head left out, block elements separated by blank
lines, spaces collapsed. A citation's line number must be the file's, not the text's (a quote in the Lua
manual's text sits hundreds of lines away from its markup), so every line of the text is anchored to its
line in the file: Python's ``html.parser`` reads the file once more and reports the line where each run
of character data starts; each visible string is found, in order, among those runs.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Sequence
from dataclasses import dataclass
from html.parser import HTMLParser

from bs4 import BeautifulSoup

from citegraph.ingest.outline import Heading, LineAnchor, compress_line_map, substitute

INVISIBLE = ("script", "style", "noscript", "template", "head", "svg")
BLOCKS = (
    "p", "div", "section", "article", "main", "header", "footer", "aside", "nav", "li", "ul", "ol",
    "h1", "h2", "h3", "h4", "h5", "h6", "table", "tr", "pre", "blockquote", "dd", "dt", "figcaption",
)  # fmt: skip
HEADINGS = ("h1", "h2", "h3", "h4", "h5", "h6")
# Character data html.parser reports that never becomes visible text (it would mislead the alignment).
_UNSEEN_DATA = frozenset({"script", "style", "title"})
# How far past the previous match a visible string is looked for among the parser's character data.
_SEARCH_WINDOW = 20_000

# The clean-up of the joined strings, in order: one newline convention, no control characters, one space
# for any run of blanks, no spaces around line breaks, at most one blank line.
_NORMALIZE = (
    (re.compile(r"\r\n?"), "\n"),
    (re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f]"), ""),
    (re.compile(r"[ \t\f\v\xa0]+"), " "),
    (re.compile(r" *\n *"), "\n"),
    (re.compile(r"\n{3,}"), "\n\n"),
)


@dataclass(frozen=True)
class PageText:
    """A page's visible text, its headings and its line map (see ``citegraph.ingest.outline``)."""

    text: str
    headings: tuple[Heading, ...]
    line_map: tuple[LineAnchor, ...]


class _CharacterData(HTMLParser):
    """Every run of character data in a page, decoded, with the 1-based file line it starts on."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.runs: list[str] = []
        self.starts: list[int] = []  # offset of each run in "".join(runs)
        self.lines: list[int] = []
        self._length = 0
        self._unseen = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._unseen += tag in _UNSEEN_DATA

    def handle_endtag(self, tag: str) -> None:
        if tag in _UNSEEN_DATA and self._unseen:
            self._unseen -= 1

    def handle_data(self, data: str) -> None:
        if not self._unseen:
            self.runs.append(data)
            self.starts.append(self._length)
            self.lines.append(self.getpos()[0])  # during handle_data, the position of the run's start
            self._length += len(data)


class _FileLines:
    """The file line of any character of the page's character data (``data``)."""

    def __init__(self, markup: str) -> None:
        parser = _CharacterData()
        try:
            parser.feed(markup)
            parser.close()
        # BeautifulSoup already parsed this markup with the same parser; should this pass still fail,
        # the page keeps its text and loses only its line numbers.
        except Exception:
            parser = _CharacterData()
        self.data = "".join(parser.runs)
        self._starts, self._lines = parser.starts, parser.lines

    def line(self, offset: int) -> int:
        run = bisect.bisect_right(self._starts, offset) - 1
        return self._lines[run] + self.data.count("\n", self._starts[run], offset)


def _string_anchors(string: str, found: int, offset: int, lines: _FileLines) -> list[LineAnchor]:
    """Anchors for the start of ``string`` (at ``offset`` of the text, at ``found`` of the parser's data)
    and for every line inside it."""
    anchors = [(offset, lines.line(found))]
    newline = string.find("\n")
    while newline >= 0:
        anchors.append((offset + newline + 1, lines.line(found + newline + 1)))
        newline = string.find("\n", newline + 1)
    return anchors


def _heading_starts(soup: BeautifulSoup) -> dict[int, tuple[int, str]]:
    """id of each heading's first visible string -> (level, the heading's text)."""
    starts: dict[int, tuple[int, str]] = {}
    for tag in soup.find_all(HEADINGS):
        first = next((s for s in tag.strings if s.strip()), None)
        if first is not None:
            starts[id(first)] = (int(tag.name[1]), " ".join(tag.get_text(" ").split()))
    return starts


def _normalized(text: str, offsets: Sequence[int]) -> tuple[str, list[int]]:
    """``text`` cleaned up (``_NORMALIZE``, then stripped) and where each sorted offset lands in it."""
    moved = list(offsets)
    for pattern, replacement in _NORMALIZE:
        text, moved = substitute(pattern, replacement, text, moved)
    lead = len(text) - len(text.lstrip())
    text = text.strip()
    return text, [min(max(offset - lead, 0), len(text)) for offset in moved]


def page_text(soup: BeautifulSoup, markup: str) -> PageText:
    """The visible text of ``soup`` (parsed from ``markup``, newlines already ``\\n``), its headings and
    its line map. Changes ``soup``: invisible elements are removed and block elements padded."""
    for tag in soup(list(INVISIBLE)):
        tag.decompose()
    # Block elements become paragraph breaks so sentence and paragraph chunking still work.
    for br in soup.find_all("br"):
        br.replace_with("\n")
    for tag in soup.find_all(BLOCKS):
        tag.insert_before("\n\n")
        tag.insert_after("\n\n")
    heading_starts = _heading_starts(soup)
    lines = _FileLines(markup)
    pieces: list[str] = []
    anchors: list[LineAnchor] = []
    headings: list[tuple[int, int, str]] = []  # (offset, level, title)
    offset = cursor = 0
    for string in soup.strings:
        if string.strip():
            found = lines.data.find(string, cursor, cursor + len(string) + _SEARCH_WINDOW)
            if found >= 0:
                anchors += _string_anchors(string, found, offset, lines)
                cursor = found + len(string)
            if id(string) in heading_starts:
                headings.append((offset + len(string) - len(string.lstrip()), *heading_starts[id(string)]))
        pieces.append(string)
        offset += len(string)
    points = sorted({p for p, _ in anchors} | {p for p, _, _ in headings})
    text, moved = _normalized("".join(pieces), points)
    where = dict(zip(points, moved, strict=True))
    return PageText(
        text,
        tuple(Heading(where[p], level, title) for p, level, title in headings),
        compress_line_map(text, [(where[p], line) for p, line in anchors]),
    )
