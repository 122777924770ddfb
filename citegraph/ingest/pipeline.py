"""Ingestion: find files, load and chunk them, and hand the store one atomic change.

``ingest_paths`` never lets one bad file stop the batch: each failure is reported with its path and
reason, the good files are committed together, and a crash at any point leaves the store as it was.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from citegraph.ingest.chunking import chunk_spans
from citegraph.ingest.loaders import (
    SUPPORTED_SUFFIXES,
    IngestError,
    LoadedDocument,
    content_hash,
    load_document,
    read_bytes,
)
from citegraph.retrieval.manifest import ChunkRecord, SourceRecord
from citegraph.settings import Settings

if TYPE_CHECKING:
    from citegraph.retrieval.store import HybridStore

Progress = Callable[[str, int, int], None]
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


@dataclass
class PreparedSource:
    """A loaded, chunked file ready to be committed."""

    record: SourceRecord
    chunks: list[ChunkRecord]


def source_key(path: Path) -> str:
    """How the store names a file: its absolute path, symlinks resolved."""
    return str(path.expanduser().resolve())


def source_id_for(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()[:16]


def chunk_id_for(key: str, start: int, text: str) -> str:
    """Content-hash id: the same text at the same place of the same file always gets the same id."""
    return hashlib.sha256(f"{key}\x00{start}\x00{text}".encode()).hexdigest()[:32]


def discover(paths: Iterable[Path | str]) -> tuple[list[Path], list[FileOutcome]]:
    """Expand folders recursively (hidden entries skipped) into supported files, reporting the rest.

    A named file of an unsupported type is a failure; one found inside a folder is only skipped,
    so a folder with a few images in it still ingests.
    """
    files: list[Path] = []
    outcomes: list[FileOutcome] = []
    seen: set[str] = set()

    def add(file: Path) -> None:
        key = source_key(file)
        if key not in seen:
            seen.add(key)
            files.append(file)

    for raw in paths:
        path = Path(raw).expanduser()
        if path.is_dir():

            def on_error(err: OSError, _path: Path = path) -> None:
                outcomes.append(
                    FileOutcome(err.filename or str(_path), "failed", reason=f"cannot list: {err.strerror}")
                )

            for root, dirs, names in os.walk(path, onerror=on_error):
                dirs[:] = sorted(d for d in dirs if not d.startswith("."))
                for name in sorted(names):
                    file = Path(root) / name
                    if name.startswith("."):
                        continue
                    if file.suffix.lower() in SUPPORTED_SUFFIXES:
                        add(file)
                    else:
                        outcomes.append(FileOutcome(str(file), "skipped", reason="unsupported file type"))
        elif not path.exists():
            reason = "broken symbolic link" if path.is_symlink() else "no such file or directory"
            outcomes.append(FileOutcome(str(path), "failed", reason=reason))
        elif path.suffix.lower() not in SUPPORTED_SUFFIXES:
            supported = ", ".join(sorted(SUPPORTED_SUFFIXES))
            reason = f"unsupported file type '{path.suffix or '(none)'}' (supported: {supported})"
            outcomes.append(FileOutcome(str(path), "failed", reason=reason))
        else:
            add(path)
    return files, outcomes


def chunk_document(doc: LoadedDocument, key: str, settings: Settings) -> list[ChunkRecord]:
    """Chunk a document; PDF pages are chunked one by one so every chunk has one page number."""
    regions = [(p.number, p.start, p.end) for p in doc.pages] or [(None, 0, len(doc.text))]
    source_id = source_id_for(key)
    chunks: list[ChunkRecord] = []
    for page, start, end in regions:
        for c_start, c_end in chunk_spans(doc.text, settings.chunk_size, settings.chunk_overlap, start, end):
            text = doc.text[c_start:c_end]
            chunk_id = chunk_id_for(key, c_start, text)
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
        source_id_for(key), key, doc.kind, doc.title, doc.content_hash, doc.text, pages, time.time()
    )
    return PreparedSource(record, chunks), doc.warnings


def ingest_paths(
    store: HybridStore, paths: Iterable[Path | str], settings: Settings, progress: Progress | None = None
) -> IngestReport:
    """Ingest files and folders into ``store`` as one atomic change."""
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
            report.outcomes.append(FileOutcome(str(raw), "failed", reason="not in the store"))
        for match in matches:
            if known[match][0] not in to_remove:
                to_remove.append(known[match][0])
                report.outcomes.append(FileOutcome(match, "removed"))
    if to_remove:
        store.commit([], to_remove)
    report.seconds = time.perf_counter() - started
    return report
