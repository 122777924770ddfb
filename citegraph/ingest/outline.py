"""Where a span of a source sits, for a person who opens the file: its section heading and its line.

A loader records the document's headings (text offset -> heading) and, where the source text is not the
file's text line for line (HTML), a *line map*: anchors ``(text offset, line in the original file)``.
The line of any offset is its anchor's line plus the newlines between them, so the map only needs an
anchor where extraction added or removed lines; an empty map means the text's own line numbers are the
file's (plain text, Markdown, and stores written before line maps existed).

The manifest hands the stored text back as a :class:`SourceText`, a ``str`` that carries its headings
and line map, so every ``cite(..., source_text, ...)`` call can say "§ 4.6 Handling Failures, line 812"
without changing how it is called; a plain ``str`` means "no outline" (the old behaviour).
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

# (offset in the source text, 1-based line of the original file where that character is).
LineAnchor = tuple[int, int]


@dataclass(frozen=True)
class Heading:
    """A section heading: where its text starts in the source text, its depth (1 = top) and its text."""

    offset: int
    level: int
    title: str


class SourceText(str):
    """A source's text together with its headings (by offset) and its line map (see the module doc).

    Slicing or joining gives a plain ``str``: the outline describes this exact text only.
    """

    headings: tuple[Heading, ...]
    line_map: tuple[LineAnchor, ...]

    def __new__(
        cls, text: str, headings: Sequence[Heading] = (), line_map: Sequence[LineAnchor] = ()
    ) -> SourceText:
        self = super().__new__(cls, text)
        self.headings = tuple(headings)
        self.line_map = tuple(line_map)
        return self


def heading_at(headings: Sequence[Heading], offset: int) -> Heading | None:
    """The heading a character at ``offset`` falls under: the last one starting at or before it."""
    i = bisect.bisect_right([h.offset for h in headings], offset)
    return headings[i - 1] if i else None


@dataclass(frozen=True)
class SectionPaths:
    """Where any offset of one document sits, as a table of contents says it: the heading of each level
    above it ("Deployment › Using a process manager › Gunicorn"; "" before the first heading). Each
    heading's path is made once (``of``), an offset's found by bisection (``at``): a store reads the path
    of every chunk at every commit."""

    offsets: tuple[int, ...]
    paths: tuple[str, ...]

    @classmethod
    def of(cls, headings: Sequence[Heading]) -> SectionPaths:
        """The section paths of a document with these ``headings`` (in text order)."""
        paths: list[str] = []
        open_headings: list[Heading] = []
        for heading in headings:
            open_headings = [h for h in open_headings if h.level < heading.level] + [heading]
            paths.append(" › ".join(h.title for h in open_headings))
        return cls(tuple(h.offset for h in headings), tuple(paths))

    def at(self, offset: int) -> str:
        """The section path of the text at ``offset``."""
        i = bisect.bisect_right(self.offsets, offset)
        return self.paths[i - 1] if i else ""


def line_at(text: str, line_map: Sequence[LineAnchor], offset: int) -> int:
    """1-based line of the original file holding ``text[offset]`` (the text's own line without a map)."""
    i = bisect.bisect_right(line_map, (offset, float("inf")))
    anchor_offset, anchor_line = line_map[i - 1] if i else (0, 1)
    return anchor_line + text.count("\n", anchor_offset, offset)


def compress_line_map(text: str, anchors: Iterable[LineAnchor]) -> tuple[LineAnchor, ...]:
    """Only the anchors ``line_at`` could not infer from the ones before them (sorted by offset; of
    several anchors at one offset the last wins: it names the line the text there comes from)."""
    by_offset: dict[int, int] = {}
    for offset, line in anchors:
        by_offset[offset] = line
    kept: list[LineAnchor] = []
    last_offset, last_line = 0, 1
    for offset in sorted(by_offset):
        line = by_offset[offset]
        if line != last_line + text.count("\n", last_offset, offset):
            kept.append((offset, line))
        last_offset, last_line = offset, line
    return tuple(kept)


def substitute(
    pattern: re.Pattern[str], replacement: str, text: str, offsets: Sequence[int]
) -> tuple[str, list[int]]:
    """``pattern.sub(replacement, text)`` and where each of the sorted ``offsets`` lands in the result.

    An offset inside a replaced match lands at the same distance into the replacement, or at its end.
    """
    pieces: list[str] = []
    moved: list[int] = []
    i = 0  # next offset to move
    cursor = 0  # end of the last match in ``text``
    shift = 0  # len(result) - len(text) so far
    for match in pattern.finditer(text):
        a, b = match.span()
        while i < len(offsets) and offsets[i] < a:
            moved.append(offsets[i] + shift)
            i += 1
        while i < len(offsets) and offsets[i] < b:
            moved.append(a + shift + min(offsets[i] - a, len(replacement)))
            i += 1
        pieces += [text[cursor:a], replacement]
        shift += len(replacement) - (b - a)
        cursor = b
    pieces.append(text[cursor:])
    moved += [offset + shift for offset in offsets[i:]]
    return "".join(pieces), moved


# ATX headings ("## Title ##"); a fenced code block's "# comment" lines are not headings.
_ATX_HEADING = re.compile(r"^ {0,3}(#{1,6})[ \t]+(.+?)(?:[ \t]+#+)?[ \t]*$")
_SETEXT_UNDERLINE = re.compile(r"^ {0,3}(=+|-+)[ \t]*$")
_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
# Lines a setext underline cannot turn into a heading: list items, quotes, tables, indented code.
_NOT_SETEXT_TEXT = re.compile(r"^(?: {4}|\t| {0,3}(?:[-*+>|]|\d{1,9}[.)])(?:\s|$))")


@dataclass(frozen=True)
class _MarkdownHeading:
    first: int  # index of its first line (the text line of a setext heading)
    last: int  # index of its last line (the underline of a setext heading)
    level: int
    title: str


def _front_matter_end(lines: Sequence[str]) -> int:
    """Index of the first line after a YAML front-matter block (``---`` ... ``---``), else 0."""
    if lines and lines[0].strip() == "---":
        for i in range(1, len(lines)):
            if lines[i].strip() in ("---", "..."):
                return i + 1
    return 0


def _markdown_heading_lines(lines: Sequence[str]) -> list[_MarkdownHeading]:
    """The ATX and setext headings among ``lines``, outside front matter and fenced code blocks."""
    headings: list[_MarkdownHeading] = []
    fence = ""
    text_line: int | None = None  # index of the line before, when it could be a setext heading's text
    for i in range(_front_matter_end(lines), len(lines)):
        line = lines[i]
        fence_match = _FENCE.match(line)
        if fence:
            if (
                fence_match
                and fence_match.group(1)[0] == fence[0]
                and len(fence_match.group(1)) >= len(fence)
            ):
                fence = ""
            continue
        if fence_match:
            fence, text_line = fence_match.group(1), None
        elif atx := _ATX_HEADING.match(line):
            headings.append(_MarkdownHeading(i, i, len(atx.group(1)), atx.group(2).strip()))
            text_line = None
        elif (underline := _SETEXT_UNDERLINE.match(line)) and text_line is not None:
            level = 1 if underline.group(1)[0] == "=" else 2
            headings.append(_MarkdownHeading(text_line, i, level, lines[text_line].strip()))
            text_line = None
        else:
            text_line = i if line.strip() and not _NOT_SETEXT_TEXT.match(line) else None
    return headings


def markdown_headings(text: str) -> list[Heading]:
    """The ATX (``# Title``) and setext (``Title`` over ``===``/``---``) headings of Markdown text,
    outside front matter and fenced code blocks; each at the offset of its first line."""
    lines = text.split("\n")
    starts = [0]
    for line in lines[:-1]:
        starts.append(starts[-1] + len(line) + 1)
    return [Heading(starts[h.first], h.level, h.title) for h in _markdown_heading_lines(lines)]


def isolate_markdown_headings(text: str) -> tuple[str, tuple[LineAnchor, ...]]:
    """``text`` with a blank line before and after every heading that lacks one (so a heading is never
    read as the start of the next sentence), and the line map back to ``text``'s lines."""
    lines = text.split("\n")
    blank_before: set[int] = set()
    for h in _markdown_heading_lines(lines):
        if h.first > 0 and lines[h.first - 1].strip():
            blank_before.add(h.first)
        if h.last + 1 < len(lines) and lines[h.last + 1].strip():
            blank_before.add(h.last + 1)
    if not blank_before:
        return text, ()
    out: list[str] = []
    anchors: list[LineAnchor] = []
    offset = 0
    for i, line in enumerate(lines):
        if i in blank_before:
            out.append("")
            offset += 1
        anchors.append((offset, i + 1))
        out.append(line)
        offset += len(line) + 1
    new_text = "\n".join(out)
    return new_text, compress_line_map(new_text, anchors)
