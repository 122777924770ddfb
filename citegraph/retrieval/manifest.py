"""The manifest: a SQLite file that says which sources and chunks the store holds.

It is the store's source of truth and its commit point. Chroma and BM25 are derived from it: an ingest
writes new vectors and a new BM25 generation first, then commits the manifest in one transaction, then
deletes what the manifest no longer references. Whatever dies in between, the manifest names exactly the
old or the new state, and :meth:`HybridStore.reconcile` brings Chroma and BM25 back in line with it.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from citegraph.ingest.outline import Heading, LineAnchor, SourceText

SCHEMA = """
CREATE TABLE IF NOT EXISTS sources (
    source_id    TEXT PRIMARY KEY,
    path         TEXT NOT NULL UNIQUE,
    kind         TEXT NOT NULL,
    title        TEXT NOT NULL,
    content_hash TEXT NOT NULL,
    text         TEXT NOT NULL,   -- the extracted text that chunk offsets index into
    pages        TEXT NOT NULL,   -- JSON [[number, start, end], ...] for PDFs, [] otherwise
    ingested_at  REAL NOT NULL,
    headings     TEXT NOT NULL DEFAULT '[]',  -- JSON [[offset, level, title], ...]
    line_map     TEXT NOT NULL DEFAULT '[]'   -- JSON [[offset, file line], ...]; [] = the text's own lines
);
CREATE TABLE IF NOT EXISTS chunks (
    chunk_id  TEXT PRIMARY KEY,
    source_id TEXT NOT NULL REFERENCES sources(source_id) ON DELETE CASCADE,
    ordinal   INTEGER NOT NULL,
    start     INTEGER NOT NULL,
    end       INTEGER NOT NULL,
    page      INTEGER,
    text      TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS chunks_by_source ON chunks(source_id, ordinal);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""
# Columns added to ``sources`` after stores were already in use: a store without them gets them, empty
# (no headings, the text's own line numbers: how its citations were located before).
OUTLINE_COLUMNS = {
    "headings": "TEXT NOT NULL DEFAULT '[]'",
    "line_map": "TEXT NOT NULL DEFAULT '[]'",
}
SOURCE_COLUMNS = "source_id, path, kind, title, content_hash, text, pages, ingested_at, headings, line_map"
LEGACY_SOURCE_COLUMNS = "source_id, path, kind, title, content_hash, text, pages, ingested_at, '[]', '[]'"


@dataclass(frozen=True)
class SourceRecord:
    """One ingested file. Read back from the manifest, its ``text`` is a :class:`SourceText` carrying
    ``headings`` and ``line_map``, so a citation of it can name the section and the file's line."""

    source_id: str
    path: str
    kind: str
    title: str
    content_hash: str
    text: str
    pages: tuple[tuple[int, int, int], ...]
    ingested_at: float
    headings: tuple[Heading, ...] = ()
    line_map: tuple[LineAnchor, ...] = ()


@dataclass(frozen=True)
class ChunkRecord:
    """One chunk: ``text == source.text[start:end]``."""

    chunk_id: str
    source_id: str
    ordinal: int
    start: int
    end: int
    page: int | None
    text: str


@dataclass
class PreparedSource:
    """A loaded, chunked file ready to be committed."""

    record: SourceRecord
    chunks: list[ChunkRecord]


# Ingest progress: (stage, done, total).
Progress = Callable[[str, int, int], None]


class Manifest:
    """Typed access to the manifest database."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        # One connection shared by threads (e.g. a server): the lock keeps a reader from running inside
        # another thread's open transaction, where it would see uncommitted rows.
        self._lock = threading.RLock()
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA foreign_keys=ON")
        self._db.execute("PRAGMA busy_timeout=30000")
        self._db.executescript(SCHEMA)
        # What ``source()`` selects: a store that cannot take the new columns (read-only) reads as before.
        self._source_columns = SOURCE_COLUMNS if self._add_outline_columns() else LEGACY_SOURCE_COLUMNS

    def _add_outline_columns(self) -> bool:
        """Give a store written before ``OUTLINE_COLUMNS`` existed those columns; False if it cannot."""
        with self._lock:
            present = {row[1] for row in self._db.execute("PRAGMA table_info(sources)")}
            if all(name in present for name in OUTLINE_COLUMNS):
                return True
            try:
                with self.transaction() as db:
                    present = {row[1] for row in db.execute("PRAGMA table_info(sources)")}  # another process?
                    for name, declaration in OUTLINE_COLUMNS.items():
                        if name not in present:
                            db.execute(f"ALTER TABLE sources ADD COLUMN {name} {declaration}")
            except sqlite3.OperationalError:  # e.g. "attempt to write a readonly database"
                return False
            return True

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def _rows(self, sql: str, params: Sequence[object] = ()) -> list[tuple]:
        """Run one statement under the lock and fetch everything (no cursor outlives the lock)."""
        with self._lock:
            return self._db.execute(sql, params).fetchall()

    # -- meta -------------------------------------------------------------------------------------
    def get_meta(self, key: str, default: str | None = None) -> str | None:
        rows = self._rows("SELECT value FROM meta WHERE key = ?", (key,))
        return rows[0][0] if rows else default

    def set_meta(self, key: str, value: str) -> None:
        self._rows("INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)", (key, value))

    # -- reads ------------------------------------------------------------------------------------
    def source_hashes(self) -> dict[str, tuple[str, str]]:
        """path -> (source_id, content_hash) for every source."""
        rows = self._rows("SELECT path, source_id, content_hash FROM sources")
        return {path: (sid, digest) for path, sid, digest in rows}

    def sources(self) -> list[SourceRecord]:
        rows = self._rows(
            # Listing sources does not need their (possibly large) text.
            "SELECT source_id, path, kind, title, content_hash, '', pages, ingested_at, '[]', '[]' "
            "FROM sources ORDER BY path"
        )
        return [_source(row) for row in rows]

    def headings(self) -> dict[str, tuple[Heading, ...]]:
        """Each source's headings (what a chunk's ``SectionPaths`` are read from), without its text."""
        column = "headings" if self._source_columns == SOURCE_COLUMNS else "'[]'"
        rows = self._rows(f"SELECT source_id, {column} FROM sources")
        return {sid: tuple(Heading(*h) for h in json.loads(found)) for sid, found in rows}

    def source(self, source_id: str) -> SourceRecord | None:
        rows = self._rows(f"SELECT {self._source_columns} FROM sources WHERE source_id = ?", (source_id,))
        return _source(rows[0]) if rows else None

    def chunk_counts(self) -> dict[str, int]:
        return dict(self._rows("SELECT source_id, COUNT(*) FROM chunks GROUP BY source_id"))

    def text_lengths(self) -> dict[str, int]:
        """source_id -> characters of its text, counted by SQLite (``sources()`` leaves the text out).

        SQLite's length() counts characters up to a NUL; loaders strip control characters, NUL included.
        """
        return dict(self._rows("SELECT source_id, length(text) FROM sources"))

    def chunk_ids(self, source_ids: Iterable[str] | None = None) -> set[str]:
        if source_ids is None:
            return {r[0] for r in self._rows("SELECT chunk_id FROM chunks")}
        ids: set[str] = set()
        for sid in source_ids:
            ids.update(r[0] for r in self._rows("SELECT chunk_id FROM chunks WHERE source_id = ?", (sid,)))
        return ids

    def chunks(self, chunk_ids: Iterable[str] | None = None) -> list[ChunkRecord]:
        """The given chunks in the given order (unknown ids are skipped), or all chunks in source order."""
        if chunk_ids is None:
            rows = self._rows(
                "SELECT c.* FROM chunks c JOIN sources s USING(source_id) ORDER BY s.path, c.ordinal"
            )
            return [ChunkRecord(*row) for row in rows]
        wanted = list(chunk_ids)
        found: dict[str, ChunkRecord] = {}
        for i in range(0, len(wanted), 500):
            batch = wanted[i : i + 500]
            marks = ",".join("?" * len(batch))
            for row in self._rows(f"SELECT * FROM chunks WHERE chunk_id IN ({marks})", batch):
                found[row[0]] = ChunkRecord(*row)
        return [found[cid] for cid in wanted if cid in found]

    # -- the commit point -------------------------------------------------------------------------
    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One atomic write: everything in the block lands, or nothing does."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def replace_sources(
        self,
        remove_source_ids: Iterable[str],
        sources: Iterable[SourceRecord],
        chunks: Iterable[ChunkRecord],
        meta: dict[str, str],
    ) -> None:
        """Drop ``remove_source_ids``, add ``sources`` with their ``chunks`` and set ``meta``, atomically."""
        with self.transaction() as db:
            db.executemany("DELETE FROM sources WHERE source_id = ?", [(s,) for s in remove_source_ids])
            db.executemany(
                f"INSERT INTO sources ({SOURCE_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (
                        s.source_id,
                        s.path,
                        s.kind,
                        s.title,
                        s.content_hash,
                        s.text,
                        json.dumps(s.pages),
                        s.ingested_at,
                        json.dumps([[h.offset, h.level, h.title] for h in s.headings]),
                        json.dumps(s.line_map),
                    )
                    for s in sources
                ],
            )
            db.executemany(
                "INSERT INTO chunks VALUES (?, ?, ?, ?, ?, ?, ?)",
                [(c.chunk_id, c.source_id, c.ordinal, c.start, c.end, c.page, c.text) for c in chunks],
            )
            db.executemany("INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)", list(meta.items()))


def _source(row: tuple) -> SourceRecord:
    """A ``sources`` row (``SOURCE_COLUMNS``) as a record whose text knows its outline."""
    sid, path, kind, title, digest, text, pages, ingested_at, headings, line_map = row
    outline = tuple(Heading(*h) for h in json.loads(headings))
    lines = tuple((offset, line) for offset, line in json.loads(line_map))
    return SourceRecord(
        sid,
        path,
        kind,
        title,
        digest,
        SourceText(text, outline, lines),
        tuple(tuple(p) for p in json.loads(pages)),
        ingested_at,
        outline,
        lines,
    )
