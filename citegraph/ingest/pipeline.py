"""Ingestion: find files, load and chunk them, and hand the store one atomic change.

``ingest_paths`` never lets one bad file stop the batch: each failure is reported with its path and
reason, the good files are committed together, and a crash at any point leaves the store as it was.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from stat import S_ISDIR
from typing import TYPE_CHECKING, Literal

from citegraph.ingest.chunking import chunk_spans
from citegraph.ingest.loaders import (
    SUPPORTED_NAMES,
    SUPPORTED_SUFFIXES,
    IngestError,
    LoadedDocument,
    content_hash,
    is_link,
    load_document,
    os_reason,
    read_bytes,
)
from citegraph.ingest.outline import SectionPaths
from citegraph.retrieval.manifest import ChunkRecord, Manifest, PreparedSource, Progress, SourceRecord
from citegraph.settings import Settings

if TYPE_CHECKING:
    from citegraph.retrieval.store import HybridStore

Status = Literal["added", "replaced", "unchanged", "removed", "failed", "skipped"]


@dataclass
class FileOutcome:
    """What happened to one path."""

    path: str
    status: Status
    chunks: int = 0
    reason: str = ""


@dataclass
class IngestReport:
    """The outcome of one ingest or remove run."""

    outcomes: list[FileOutcome] = field(default_factory=list)
    chunks_embedded: int = 0
    seconds: float = 0.0

    @property
    def failed(self) -> list[FileOutcome]:
        return [o for o in self.outcomes if o.status == "failed"]

    @property
    def ok(self) -> bool:
        return not self.failed

    def count(self, status: Status) -> int:
        return sum(o.status == status for o in self.outcomes)

    def to_dict(self) -> dict:
        return {
            "ok": self.ok,
            "files": [asdict(o) for o in self.outcomes],
            "chunks_embedded": self.chunks_embedded,
            "seconds": round(self.seconds, 3),
        }


def stored_sources(store_dir: Path | str) -> int | None:
    """How many sources the store at ``store_dir`` holds, or None when there is no store there.

    Creates nothing (opening a HybridStore would create the folder): commands that only read use it to
    refuse a mistyped ``--store`` instead of answering from a new, empty store.
    """
    path = Path(store_dir).expanduser() / "manifest.sqlite"
    if not path.is_file():
        return None
    manifest = Manifest(path)
    try:
        return len(manifest.source_hashes())
    finally:
        manifest.close()


def source_key(path: Path) -> str:
    """How the store names a file: its absolute path, symlinks resolved."""
    return str(path.expanduser().resolve())


def printable(path: Path | str) -> str:
    """``path`` as text that can be printed and stored: bytes of a non-UTF-8 name become U+FFFD."""
    return os.fsencode(path).decode("utf-8", "replace")


def source_id_for(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()[:16]


def chunk_id_for(key: str, start: int, text: str, section: str = "") -> str:
    """Content-hash id of everything the store indexes for a chunk: the same text under the same section
    (``SectionPaths``) at the same place of the same file always gets the same id, and keeps its vector.
    A chunk under no heading keeps the id it had before sections were indexed."""
    indexed = f"{section}\x00{text}" if section else text
    return hashlib.sha256(f"{key}\x00{start}\x00{indexed}".encode()).hexdigest()[:32]


def discover(paths: Iterable[Path | str]) -> tuple[list[Path], list[FileOutcome]]:
    """Expand folders recursively (hidden entries skipped) into supported files, reporting the rest.

    A named path that yields nothing is a failure: a missing or unreadable path, an unsupported file,
    a folder without a supported file. Inside a folder, an unsupported file or a symbolic link that
    cannot be followed (broken, or a loop) is only skipped, so a folder with a few images still ingests.
    Symbolic links to folders are followed, each real folder once, so a link back up cannot recurse.
    """
    files: list[Path] = []
    outcomes: list[FileOutcome] = []
    seen: set[str] = set()

    def fail(path: Path | str, reason: str, status: Status = "failed") -> None:
        outcomes.append(FileOutcome(printable(path), status, reason=reason))

    def add(file: Path, status: Status) -> None:
        try:
            key = source_key(file)
        # Python 3.11's resolve() raises RuntimeError on a symbolic link loop it meets on the way.
        except (OSError, RuntimeError) as error:
            fail(file, os_reason(file, error) if isinstance(error, OSError) else "symbolic link loop", status)
            return
        if printable(key) != key:  # SQLite and Chroma store UTF-8: such a name would fail the whole commit
            fail(file, "the file name is not valid UTF-8 (rename the file)")
            return
        if key not in seen:
            seen.add(key)
            files.append(file)

    def walk(top: Path) -> int | None:
        """Add the supported files under ``top``; how many were found (None: ``top`` cannot be listed)."""
        found, unlistable = 0, False
        entered = {os.path.realpath(top)}

        def on_error(err: OSError) -> None:
            nonlocal unlistable
            fail(err.filename or str(top), f"cannot list: {err.strerror}")
            unlistable = unlistable or err.filename in (None, str(top))

        for root, dirs, names in os.walk(top, onerror=on_error, followlinks=True):
            here = os.path.realpath(root)
            kept = []
            for name in sorted(d for d in dirs if not d.startswith(".")):
                real = os.path.realpath(os.path.join(root, name))
                if real not in entered:
                    entered.add(real)
                    kept.append(name)
                elif here == real or here.startswith(real.rstrip(os.sep) + os.sep):
                    fail(Path(root) / name, f"symbolic link loop (back to {real})", "skipped")
                else:
                    fail(Path(root) / name, f"already searched as {real}", "skipped")
            dirs[:] = kept
            for name in sorted(names):
                file = Path(root) / name
                if name.startswith("."):
                    continue
                if is_link(file):
                    try:
                        file.stat()
                    except OSError as error:
                        fail(file, os_reason(file, error), "skipped")
                        continue
                if file.suffix.lower() in SUPPORTED_SUFFIXES:
                    found += 1
                    add(file, "skipped")
                else:
                    fail(file, "unsupported file type", "skipped")
        return None if unlistable else found  # an unlistable top is reported already

    for raw in paths:
        path = Path(raw).expanduser()
        try:
            info = path.stat()
        # Any reason the path cannot be looked at (missing, permission, loop, name too long) is this
        # path's failure: the rest of the batch still goes in.
        except OSError as error:
            fail(path, os_reason(path, error))
            continue
        if S_ISDIR(info.st_mode):
            if walk(path) == 0:
                fail(path, f"no supported files {SUPPORTED_NAMES} in this folder")
        elif path.suffix.lower() not in SUPPORTED_SUFFIXES:
            supported = ", ".join(sorted(SUPPORTED_SUFFIXES))
            fail(path, f"unsupported file type '{path.suffix or '(none)'}' (supported: {supported})")
        else:
            add(path, "failed")
    return files, outcomes


def chunk_document(doc: LoadedDocument, key: str, settings: Settings) -> list[ChunkRecord]:
    """Chunk a document; PDF pages are chunked one by one so every chunk has one page number."""
    regions = [(p.number, p.start, p.end) for p in doc.pages] or [(None, 0, len(doc.text))]
    source_id = source_id_for(key)
    chunks: list[ChunkRecord] = []
    sections = SectionPaths.of(doc.headings)
    for page, start, end in regions:
        for c_start, c_end in chunk_spans(doc.text, settings.chunk_size, settings.chunk_overlap, start, end):
            text = doc.text[c_start:c_end]
            chunk_id = chunk_id_for(key, c_start, text, sections.at(c_start))
            chunks.append(ChunkRecord(chunk_id, source_id, len(chunks), c_start, c_end, page, text))
    return chunks


def prepare(path: Path, data: bytes, settings: Settings) -> tuple[PreparedSource, tuple[str, ...]]:
    """Load and chunk one file; returns it with the loader's warnings."""
    doc = load_document(path, int(settings.max_file_mb * 1e6), data=data)
    key = source_key(path)
    chunks = chunk_document(doc, key, settings)
    if not chunks:
        raise IngestError(path, "no text to index")
    pages = tuple((p.number, p.start, p.end) for p in doc.pages)
    record = SourceRecord(
        source_id_for(key),
        key,
        doc.kind,
        doc.title,
        doc.content_hash,
        doc.text,
        pages,
        time.time(),
        headings=doc.headings,
        line_map=doc.line_map,
    )
    return PreparedSource(record, chunks), doc.warnings


def ingest_paths(
    store: HybridStore,
    paths: Iterable[Path | str],
    settings: Settings,
    progress: Progress | None = None,
    *,
    all_or_nothing: bool = False,
) -> IngestReport:
    """Ingest files and folders into ``store`` as one atomic change.

    The good files go in even when others fail, unless ``all_or_nothing``: then one failure commits
    nothing and the good files are reported ``skipped`` (an API request that fails must change nothing).
    """
    started = time.perf_counter()
    files, outcomes = discover(paths)
    report = IngestReport(outcomes=outcomes)
    known = store.manifest.source_hashes()
    prepared: list[PreparedSource] = []
    replaced: list[str] = []
    max_bytes = int(settings.max_file_mb * 1e6)
    for done, path in enumerate(files, start=1):
        key = source_key(path)
        try:
            data = read_bytes(path, max_bytes)
            previous = known.get(key)
            if previous and previous[1] == content_hash(data):
                report.outcomes.append(FileOutcome(str(path), "unchanged"))
                continue
            source, warnings = prepare(path, data, settings)
        except IngestError as err:
            report.outcomes.append(FileOutcome(str(path), "failed", reason=err.reason))
            continue
        finally:
            if progress:
                progress("reading", done, len(files))
        prepared.append(source)
        if previous:
            replaced.append(previous[0])
        report.outcomes.append(
            FileOutcome(
                str(path), "replaced" if previous else "added", len(source.chunks), "; ".join(warnings)
            )
        )
    if all_or_nothing and not report.ok:
        for outcome in report.outcomes:
            if outcome.status in ("added", "replaced"):
                outcome.status, outcome.chunks = "skipped", 0
                outcome.reason = "not ingested: another file of the batch failed"
        prepared = []
    if prepared:
        report.chunks_embedded = store.commit(prepared, replaced, progress)
    report.seconds = time.perf_counter() - started
    return report


def remove_paths(store: HybridStore, paths: Iterable[Path | str]) -> IngestReport:
    """Remove sources by path; a folder removes every source under it. Files need not exist any more."""
    started = time.perf_counter()
    report = IngestReport()
    known = store.manifest.source_hashes()
    to_remove: list[str] = []
    for raw in paths:
        key = source_key(Path(raw))
        matches = [p for p in known if p == key or p.startswith(key.rstrip(os.sep) + os.sep)]
        if not matches:
            report.outcomes.append(FileOutcome(printable(raw), "failed", reason="not in the store"))
        for match in matches:
            if known[match][0] not in to_remove:
                to_remove.append(known[match][0])
                report.outcomes.append(FileOutcome(match, "removed"))
    if to_remove:
        store.commit([], to_remove)
    report.seconds = time.perf_counter() - started
    return report
