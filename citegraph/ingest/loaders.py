"""Turn files into text: ``.txt``, ``.md``, ``.pdf`` (page numbers kept) and ``.html``.

Every loader returns a :class:`LoadedDocument` whose ``text`` is *the* source text: chunk and citation
offsets (``start``/``end``) index into it, and the manifest stores it so a citation can always be shown.
The text is cleaned here, once (PDF clean-up: ``citegraph.ingest.cleaning``; HTML: ``html_text``), so
quotes stay verbatim slices of what is stored. With it come the document's section headings and, where
the text's lines are not the file's (HTML, Markdown with headings set apart), a line map back to the file
(``citegraph.ingest.outline``), so a citation can say "§ 2.4 Metatables, line 450".
Anything wrong with a file raises :class:`IngestError` naming the file and the reason.
"""

from __future__ import annotations

import errno
import hashlib
import io
import logging
import re
import stat
from dataclasses import dataclass, field
from pathlib import Path

from citegraph.ingest import pdf_text
from citegraph.ingest.cleaning import choose_title, clean_pdf_pages, is_junk_title, title_by_font
from citegraph.ingest.markdown_text import render_markdown
from citegraph.ingest.outline import Heading, LineAnchor, isolate_markdown_headings, markdown_headings

SUPPORTED_SUFFIXES: dict[str, str] = {
    ".txt": "text",
    ".text": "text",
    ".md": "markdown",
    ".markdown": "markdown",
    ".pdf": "pdf",
    ".html": "html",
    ".htm": "html",
}
# How messages name the supported types: one suffix per kind (.text, .markdown and .htm are aliases).
SUPPORTED_NAMES = "(.txt .md .pdf .html)"

# Bumped whenever loaders extract different text from the same bytes: it is part of ``content_hash``, so
# the next ingest reads such files again instead of calling them unchanged (2: PDF clean-up, outlines;
# 3: Markdown rendered, ``markdown_text``; 4: PDF word breaks and bitmap fonts, pages drawn twice, running
# headers whose page number is set apart on some pages).
EXTRACTION_VERSION = 4

# Control characters that never occur in real text (tab, newlines and form feed excluded).
_BINARY_BYTES = bytes(set(range(32)) - {9, 10, 12, 13}) + b"\x7f"


class IngestError(Exception):
    """A file could not be ingested; ``str(err)`` says which file and why."""

    def __init__(self, path: Path | str, reason: str) -> None:
        reason = " ".join(reason.split())  # one line: parsers' messages can span several
        super().__init__(f"{path}: {reason}")
        self.path = str(path)
        self.reason = reason


@dataclass(frozen=True)
class Page:
    """One PDF page: its 1-based number and its character span in the document text."""

    number: int
    start: int
    end: int


@dataclass(frozen=True)
class LoadedDocument:
    """A file's extracted text and what citations need to point into it."""

    path: Path
    kind: str
    title: str
    text: str
    content_hash: str
    pages: tuple[Page, ...] = ()
    warnings: tuple[str, ...] = field(default_factory=tuple)
    headings: tuple[Heading, ...] = ()
    line_map: tuple[LineAnchor, ...] = ()


def content_hash(data: bytes) -> str:
    """sha256 of ``EXTRACTION_VERSION`` and a file's bytes: an unchanged file is recognised without
    parsing it again, and every file is read again once after the way text is extracted changes."""
    return hashlib.sha256(b"citegraph-text-%d\0" % EXTRACTION_VERSION + data).hexdigest()


def is_link(path: Path) -> bool:
    """Whether ``path`` is a symbolic link; False where even ``lstat`` fails (the stat error says why)."""
    try:
        return path.is_symlink()
    except OSError:
        return False


def os_reason(path: Path, error: OSError) -> str:
    """A short reason for an OS error on ``path``, e.g. ``permission denied`` or ``symbolic link loop``."""
    if error.errno == errno.ELOOP:
        return "symbolic link loop"
    if error.errno in (errno.ENOENT, errno.ENOTDIR):
        return "broken symbolic link" if is_link(path) else "no such file or directory"
    if error.errno in (errno.EACCES, errno.EPERM):
        return "permission denied"
    if error.errno == errno.ENAMETOOLONG:
        return "file name too long"
    return f"cannot read: {error.strerror or error}"


def read_bytes(path: Path, max_bytes: int) -> bytes:
    """Read a file, refusing what is missing, not a regular file, unreadable, empty or too large."""
    try:
        info = path.stat()
        if not stat.S_ISREG(info.st_mode):
            raise IngestError(path, "not a regular file")
        if (size := info.st_size) > max_bytes:
            raise IngestError(path, f"file is {size / 1e6:.1f} MB, over the {max_bytes / 1e6:.0f} MB limit")
        data = path.read_bytes()
    except OSError as err:
        raise IngestError(path, os_reason(path, err)) from None
    if not data.strip():
        raise IngestError(path, "empty file")
    return data


def decode_text(path: Path, data: bytes) -> tuple[str, tuple[str, ...]]:
    """Decode text bytes: UTF-8 (BOM allowed), UTF-16 with a BOM, else the best-fitting legacy encoding.

    Binary data is refused. A non-UTF-8 file is decoded with a warning naming the encoding used,
    because refusing latin-1 or TIS-620 text would lose documents a user meant to ingest.
    """
    if data[:2] in (b"\xff\xfe", b"\xfe\xff"):
        try:
            return data.decode("utf-16"), ("not UTF-8: decoded as UTF-16",)
        except UnicodeDecodeError:
            raise IngestError(path, "binary file (invalid UTF-16)") from None
    head = data[:8192]
    if b"\x00" in head or sum(head.count(b) for b in _BINARY_BYTES) > len(head) * 0.01:
        raise IngestError(path, "binary file, not text")
    try:
        return data.decode("utf-8-sig"), ()
    except UnicodeDecodeError:
        pass
    from charset_normalizer import from_bytes

    matches = list(from_bytes(data))
    if not matches:
        raise IngestError(path, "not UTF-8, and no text encoding fits it")
    best = matches[0]
    # On short texts the detector cannot tell Western code pages apart (French in cp1252 scores like
    # cp1257); Windows-1252, by far the most common legacy encoding, wins such near-ties.
    for match in matches:
        near_tie = match.chaos <= best.chaos + 0.1 and match.coherence >= best.coherence - 0.05
        if match.encoding == "cp1252" and near_tie:
            best = match
            break
    return str(best), (f"not UTF-8: decoded as {best.encoding}",)


def _clean(text: str) -> str:
    """One newline convention and no stray control characters, so offsets mean the same everywhere."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return re.sub(r"[\x00-\x08\x0b\x0e-\x1f\x7f]", "", text)


# At most this many non-empty lines make a title set one word per line.
TITLE_LINES = 4


def _first_line_title(text: str, fallback: str) -> str:
    """The first non-empty line; a one-word first line takes the short lines right after it ("พระราชบัญญัติ /
    ลิขสิทธิ์ / พ.ศ. / ๒๕๓๗", a title set one word per line); ``fallback`` when it is too long for a title."""
    lines = [line.strip().lstrip("#").strip() for line in text.splitlines()]
    start = next((i for i, line in enumerate(lines) if line), None)
    if start is None:
        return fallback
    words = [lines[start]]
    if " " not in words[0] and not words[0].endswith((".", ":", "!", "?")):
        for line in [line for line in lines[start + 1 :] if line][: TITLE_LINES - 1]:
            if len(line.split()) > 3 or len(" ".join([*words, line])) > 90:
                break
            if line != words[-1]:  # a title printed twice, as some Acts are, is one title
                words.append(line)
    title = " ".join(words) if len(words) > 1 else words[0].rstrip(".")
    return title if len(title) <= 120 else fallback


def _markdown_title(text: str, headings: list[Heading], fallback: str) -> str:
    """The first top-level heading; else the first line, unless it is markup or front matter; else the
    first heading of any level; else ``fallback``. A page opening with prose ("Starlette encourages a strict
    separation of configuration from code,\nfollowing ...", "Starlette includes a `Request` class.") has no
    title line: ``fallback``, not its first sentence nor a later section's heading."""
    top = [h.title for h in headings if h.level == 1]
    if top:
        return top[0]
    first = _first_line_title(text, "")
    if first and not first.startswith(("<", "---", "```", "~~~")):
        lines = text.strip().splitlines()
        prose = lines[0].rstrip().endswith((".", ":", ",", ";")) or (len(lines) > 1 and lines[1].strip())
        return fallback if prose else first
    return headings[0].title if headings else fallback


def _load_plain(path: Path, data: bytes, kind: str) -> LoadedDocument:
    text, warnings = decode_text(path, data)
    text = _clean(text)
    if not text.strip():
        raise IngestError(path, "no text in file")
    headings: list[Heading] = []
    line_map: tuple[LineAnchor, ...] = ()
    title = _first_line_title(text, path.stem)
    if kind == "markdown":
        text, line_map = isolate_markdown_headings(render_markdown(text))
        headings = markdown_headings(text)
        title = _markdown_title(text, headings, path.stem)
    return LoadedDocument(
        path=path,
        kind=kind,
        title=title,
        text=text,
        content_hash=content_hash(data),
        warnings=warnings,
        headings=tuple(headings),
        line_map=line_map,
    )


def _pdf_first_line_title(text: str, fallback: str) -> str:
    """The first line of a PDF's cleaned text as its title, unless that is no title (a section heading
    such as "1 Introduction", a bare number): then ``fallback``."""
    first = _first_line_title(text, fallback)
    return fallback if is_junk_title(first) else first


def _load_pdf(path: Path, data: bytes) -> LoadedDocument:
    from pypdf import PdfReader

    logging.getLogger("pypdf").setLevel(logging.ERROR)  # pypdf logs every tolerated glitch
    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted and not reader.decrypt(""):
            raise IngestError(path, "encrypted PDF: it needs a password")
        page_texts: list[str] = []
        font_title = None
        for number, page in enumerate(reader.pages):
            if number == 0:  # the title is the first page's largest text: only that page needs font sizes
                text, fragments = pdf_text.text_and_font_sizes(page, reader)
                font_title = title_by_font(fragments)
            else:
                text = pdf_text.page_text(page, reader)
            page_texts.append(_clean(pdf_text.without_second_copy(text)))
        meta_title = (reader.metadata.title if reader.metadata else None) or ""
    except IngestError:
        raise
    # A parser fed untrusted bytes can raise anything; one bad file must not stop a batch.
    except Exception as err:
        raise IngestError(path, f"corrupt or unreadable PDF ({type(err).__name__}: {err})") from None
    if not any(t.strip() for t in page_texts):
        raise IngestError(
            path, "PDF has no extractable text (scanned images need OCR, which is not supported)"
        )
    title = choose_title(str(meta_title), font_title, page_texts[0])
    cleaned = clean_pdf_pages(page_texts, font_title or title)
    # Pages are joined with a blank line so a paragraph never runs across a page break.
    parts: list[str] = []
    pages: list[Page] = []
    headings: list[Heading] = []
    offset = 0
    for number, page_text in enumerate(cleaned, start=1):
        if parts:
            parts.append("\n\n")
            offset += 2
        parts.append(page_text.text)
        pages.append(Page(number, offset, offset + len(page_text.text)))
        headings += [Heading(offset + h.offset, h.level, h.title) for h in page_text.headings]
        offset += len(page_text.text)
    text = "".join(parts)
    if not text.strip():
        raise IngestError(path, "PDF has no text left once page headers, footers and numbers are removed")
    return LoadedDocument(
        path,
        "pdf",
        title or _pdf_first_line_title(text, path.stem),
        text,
        content_hash(data),
        tuple(pages),
        headings=tuple(headings),
    )


def _load_html(path: Path, data: bytes) -> LoadedDocument:
    from bs4 import BeautifulSoup

    from citegraph.ingest.html_text import page_text

    markup, warnings = decode_text(path, data)
    markup = markup.replace("\r\n", "\n").replace("\r", "\n")  # the file's line breaks, one convention
    try:
        soup = BeautifulSoup(markup, "html.parser")
    # html.parser gives up on some malformed markup instead of repairing it (bs4 raises
    # ParserRejectedMarkup, e.g. for "<![ if ... ]>"); that is this file's failure, not the batch's.
    except Exception as err:
        # bs4's message is advice, then the parser's own error on its last line.
        cause = (str(err).strip().splitlines() or [type(err).__name__])[-1]
        raise IngestError(path, f"malformed HTML the parser rejects ({cause.strip()})") from None
    title = soup.title.get_text(" ", strip=True) if soup.title else ""
    page = page_text(soup, markup)
    if not page.text:
        raise IngestError(path, "HTML page has no visible text")
    return LoadedDocument(
        path=path,
        kind="html",
        title=title or _first_line_title(page.text, path.stem),
        text=page.text,
        content_hash=content_hash(data),
        warnings=warnings,
        headings=page.headings,
        line_map=page.line_map,
    )


def load_document(path: Path, max_bytes: int, data: bytes | None = None) -> LoadedDocument:
    """Load one supported file (``data`` if the caller already read its bytes)."""
    kind = SUPPORTED_SUFFIXES.get(path.suffix.lower())
    if kind is None:
        supported = ", ".join(sorted(SUPPORTED_SUFFIXES))
        raise IngestError(path, f"unsupported file type '{path.suffix or '(none)'}' (supported: {supported})")
    if data is None:
        data = read_bytes(path, max_bytes)
    if kind == "pdf":
        if not data.lstrip().startswith(b"%PDF"):
            raise IngestError(path, "not a PDF (no %PDF header): corrupt or misnamed file")
        return _load_pdf(path, data)
    if kind == "html":
        return _load_html(path, data)
    return _load_plain(path, data, kind)
