"""The hybrid store: Chroma (dense) + BM25, kept in step by chunk id under one manifest.

Layout of ``Settings.store_dir``::

    manifest.sqlite      sources, chunks, the BM25 generation (the commit point; see manifest.py)
    chroma/              embedded Chroma (PersistentClient), one collection of chunk vectors
    bm25/000007/         the BM25 index of generation 7 (older generations are deleted after commit)
    write.lock           held by the one process writing at a time

Only one writer at a time (a file lock); readers may run while it writes and see the old state until the
manifest commits, then reload.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from functools import cache, cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from threadpoolctl import ThreadpoolController

from citegraph.errors import ModelNotFoundError
from citegraph.ingest.outline import Heading, SectionPaths
from citegraph.models.paths import resolve_model_path
from citegraph.retrieval.bm25 import Bm25Index, SourceBm25
from citegraph.retrieval.embeddings import ChromaEmbeddingFunction, Embedder, shared_embedder
from citegraph.retrieval.fusion import Ranking, fuse_rankings
from citegraph.retrieval.manifest import ChunkRecord, Manifest, PreparedSource, Progress, SourceRecord
from citegraph.settings import Settings

if TYPE_CHECKING:
    from chromadb.api import ClientAPI
    from chromadb.api.models.Collection import Collection
    from langchain_core.documents import Document


_EMBED_BATCH = 256  # chunks per embed+upsert round: big enough for full encode batches, small for progress


# Each source's section paths, by source id (``section_paths``).
Sections = Mapping[str, SectionPaths]


def section_paths(outlines: Mapping[str, Sequence[Heading]]) -> dict[str, SectionPaths]:
    """Each source's ``SectionPaths`` from its headings (``Manifest.headings``): made once per commit,
    then every chunk's path is a bisection."""
    return {source_id: SectionPaths.of(headings) for source_id, headings in outlines.items()}


def indexed_texts(chunks: Sequence[ChunkRecord], sections: Sections) -> list[str]:
    """What BM25 and the bi-encoder index for each chunk: its section path (``SectionPaths``: the
    headings above it) on a line before its text. A chunk of a manual's "BINARY FILES" section rarely says
    "binary" itself, and a question names the section ("How does pcre2grep decide that a file is
    binary?"). Citations quote the chunk's text only. The document's title is left out: beside the
    headings it lowered the ranking on the training splits, whose documents have titles and no headings
    (SciFact train nDCG@10 0.7405 -> 0.7387, SQuAD-train paragraph first 0.9535 -> 0.9492:
    benchmarks/results/section_path_training_splits_side_by_side.json). A document without headings is
    indexed as before."""
    texts = []
    for chunk in chunks:
        path = sections[chunk.source_id].at(chunk.start) if chunk.source_id in sections else ""
        texts.append(f"{path}\n{chunk.text}" if path else chunk.text)
    return texts


class StoreError(RuntimeError):
    """The store cannot be used as asked (wrong embedding model, locked, ...)."""


@dataclass(frozen=True)
class Hit:
    """One search result: a chunk, where it comes from, and why it ranked."""

    chunk_id: str
    text: str
    source_id: str
    source: str
    title: str
    start: int
    end: int
    page: int | None
    score: float
    bm25_rank: int | None = None
    dense_rank: int | None = None
    similarity: float | None = None

    def to_document(self) -> Document:
        from langchain_core.documents import Document

        metadata: dict[str, Any] = {
            "chunk_id": self.chunk_id,
            "source": self.source,
            "title": self.title,
            "start": self.start,
            "end": self.end,
            "page": self.page,
            "score": self.score,
        }
        return Document(id=self.chunk_id, page_content=self.text, metadata=metadata)


class HybridStore:
    """Dense + BM25 search over ingested chunks, with atomic, crash-safe updates."""

    def __init__(self, settings: Settings | None = None, embedder: Embedder | None = None) -> None:
        self.settings = settings or Settings()
        self.dir = Path(self.settings.store_dir).expanduser()
        self.dir.mkdir(parents=True, exist_ok=True)
        if embedder is None:
            try:  # fail at open, not half-way through an ingest, when the model path is wrong
                resolve_model_path(self.settings.embedding_model, "embedding")
            except ModelNotFoundError as error:
                raise StoreError(str(error)) from None
        self._embedder = embedder
        self.manifest = Manifest(self.dir / "manifest.sqlite")
        self._thread_lock = threading.RLock()
        self._generation = -1
        self._bm25 = Bm25Index([], None)
        self._source_bm25: SourceBm25 | None = None  # built or loaded on first use, per generation
        self._flat: _FlatIndex | None = None  # all vectors in memory (small stores), per generation
        self._derived_lock = threading.Lock()  # builds of the per-generation source index and flat index
        self._sources: dict[str, tuple[str, str]] = {}
        if self.manifest.get_meta("dirty") == "1":
            self._try_reconcile()
        self._refresh()

    # -- lazily built parts -------------------------------------------------------------------------
    @property
    def embedder(self) -> Embedder:
        if self._embedder is None:
            self._embedder = shared_embedder(self.settings.embedding_model, self.settings.embed_batch_size)
        return self._embedder

    @cached_property
    def chroma(self) -> ClientAPI:
        import chromadb
        from chromadb.config import Settings as ChromaSettings

        if self.settings.chroma_url:  # client/server mode (the scale-out path): http(s)://host:port
            from urllib.parse import urlsplit

            url = urlsplit(self.settings.chroma_url)
            return chromadb.HttpClient(
                host=url.hostname or "localhost",
                port=url.port or (443 if url.scheme == "https" else 8000),
                ssl=url.scheme == "https",
                settings=ChromaSettings(anonymized_telemetry=False),
            )
        return chromadb.PersistentClient(
            path=str(self.dir / "chroma"), settings=ChromaSettings(anonymized_telemetry=False)
        )

    @cached_property
    def collection(self) -> Collection:
        self._check_embedding_model()
        return self.chroma.get_or_create_collection(
            self.settings.collection,
            embedding_function=ChromaEmbeddingFunction(self.embedder),  # type: ignore[arg-type]
            configuration={"hnsw": {"space": "cosine"}},
        )

    def _check_embedding_model(self) -> None:
        stored = self.manifest.get_meta("embedding_model")
        if stored is not None and stored != self.embedder.name:
            raise StoreError(
                f"the store at {self.dir} was built with embedding model '{stored}', not "
                f"'{self.embedder.name}': use that model or ingest into a new store directory"
            )

    # -- locking and reconciling ----------------------------------------------------------------------
    @contextmanager
    def _write_lock(self, blocking: bool = True) -> Iterator[bool]:
        """Exclusive across processes (flock) and threads. Yields whether the lock was taken."""
        with self._thread_lock, open(self.dir / "write.lock", "a+") as handle:
            flags = fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB)
            try:
                fcntl.flock(handle, flags)
            except BlockingIOError:
                yield False
                return
            try:
                yield True
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def _try_reconcile(self) -> None:
        with self._write_lock(blocking=False) as locked:
            if locked:  # else a writer is at work; it will leave things consistent itself
                self._reconcile()

    def reconcile(self) -> None:
        """Make Chroma and BM25 match the manifest exactly (after a crash, or if either was lost)."""
        with self._write_lock():
            self._reconcile()

    def _reconcile(self) -> None:
        live = self.manifest.chunk_ids()
        in_chroma = set(self.collection.get(include=[])["ids"])
        if extra := in_chroma - live:
            self._chroma_delete(extra)
        # Read only if something must be indexed again: usually nothing is.
        sections = cache(lambda: section_paths(self.manifest.headings()))
        if missing := live - in_chroma:
            self._embed_and_upsert(self.manifest.chunks(sorted(missing)), sections(), None)
        generation = self._committed_generation()
        try:
            Bm25Index.load(self._bm25_dir(generation))
        except (OSError, ValueError):
            chunks = self.manifest.chunks()
            Bm25Index.build([c.chunk_id for c in chunks], indexed_texts(chunks, sections())).save(
                self._bm25_dir(generation)
            )
        self._remove_old_bm25(keep=generation)
        self.manifest.set_meta("dirty", "0")

    def _committed_generation(self) -> int:
        """The BM25 generation the manifest names (0 for a store never written)."""
        return int(self.manifest.get_meta("bm25_generation") or 0)

    def _bm25_dir(self, generation: int) -> Path:
        return self.dir / "bm25" / f"{generation:06d}"

    def _remove_old_bm25(self, keep: int) -> None:
        root = self.dir / "bm25"
        if root.is_dir():
            for child in root.iterdir():
                if child.name != f"{keep:06d}":
                    shutil.rmtree(child, ignore_errors=True)

    def _refresh(self) -> None:
        """Reload BM25 and the source table when another writer (or this one) committed."""
        generation = self._committed_generation()
        if generation == self._generation:
            return
        try:
            bm25 = Bm25Index.load(self._bm25_dir(generation))
        except (OSError, ValueError):
            if generation == 0:
                bm25 = Bm25Index([], None)
            else:
                self.reconcile()
                bm25 = Bm25Index.load(self._bm25_dir(generation))
        self._bm25 = bm25
        self._source_bm25 = None
        self._flat = None
        self._live = set(bm25.ids)
        self._sources = {s.source_id: (s.path, s.title) for s in self.manifest.sources()}
        self._generation = generation

    # -- writing ----------------------------------------------------------------------------------------
    def _chroma_delete(self, ids: set[str] | list[str]) -> None:
        ids = sorted(ids)
        step = self.chroma.get_max_batch_size()
        for i in range(0, len(ids), step):
            self.collection.delete(ids=ids[i : i + step])

    def _embed_and_upsert(
        self, chunks: Sequence[ChunkRecord], sections: Sections, progress: Progress | None
    ) -> None:
        for i in range(0, len(chunks), _EMBED_BATCH):
            batch = chunks[i : i + _EMBED_BATCH]
            vectors = self.embedder.embed_documents(indexed_texts(batch, sections))
            metadatas: list[dict[str, Any]] = [
                {"source_id": c.source_id, "start": c.start, "end": c.end, "ordinal": c.ordinal}
                | ({"page": c.page} if c.page is not None else {})
                for c in batch
            ]
            self.collection.upsert(
                ids=[c.chunk_id for c in batch],
                embeddings=vectors,  # type: ignore[arg-type]
                documents=[c.text for c in batch],
                metadatas=metadatas,  # type: ignore[arg-type]
            )
            if progress:
                progress("embedding", i + len(batch), len(chunks))

    def commit(
        self,
        add: Sequence[PreparedSource],
        remove_source_ids: Sequence[str],
        progress: Progress | None = None,
    ) -> int:
        """Replace ``remove_source_ids`` by ``add`` atomically; returns how many chunks were embedded.

        Order matters for crash safety: (1) mark dirty, (2) upsert new vectors into Chroma, (3) write the
        next BM25 generation, (4) commit the manifest (the switch from old to new), (5) delete what the
        manifest no longer names. A crash before (4) leaves the old manifest and extra vectors; after (4),
        the new manifest and stale vectors; reconcile() removes either surplus on the next open.
        """
        with self._write_lock():
            if self.manifest.get_meta("dirty") == "1":
                self._reconcile()
            new_chunks = [c for s in add for c in s.chunks]
            new_ids = {c.chunk_id for c in new_chunks}
            old_ids = self.manifest.chunk_ids(remove_source_ids)
            self.manifest.set_meta("dirty", "1")
            # Chunks whose id is already in Chroma (unchanged parts of an edited file) keep their vectors.
            present = self._present_in_chroma([c.chunk_id for c in new_chunks])
            # Sorted by length, so each encode batch pads little (what SentenceTransformer.encode does
            # inside one call; we batch across calls to report progress and bound memory).
            to_embed = sorted((c for c in new_chunks if c.chunk_id not in present), key=lambda c: len(c.text))
            sections = section_paths(
                self.manifest.headings() | {s.record.source_id: s.record.headings for s in add}
            )
            self._embed_and_upsert(to_embed, sections, progress)

            kept = [
                c for c in self.manifest.chunks() if c.chunk_id not in old_ids and c.chunk_id not in new_ids
            ]
            everything = kept + new_chunks
            generation = self._committed_generation() + 1
            if progress:
                progress("indexing", 0, 1)
            final_dir = self._bm25_dir(generation)
            staging = final_dir.with_name(final_dir.name + ".tmp")
            shutil.rmtree(staging, ignore_errors=True)
            Bm25Index.build([c.chunk_id for c in everything], indexed_texts(everything, sections)).save(
                staging
            )
            shutil.rmtree(final_dir, ignore_errors=True)
            os.replace(staging, final_dir)
            if progress:
                progress("indexing", 1, 1)

            meta = {"bm25_generation": str(generation)}
            if new_chunks:
                meta["embedding_model"] = self.embedder.name
            self.manifest.replace_sources(remove_source_ids, [s.record for s in add], new_chunks, meta)

            if stale := old_ids - new_ids:
                self._chroma_delete(stale)
            self._remove_old_bm25(keep=generation)
            self.manifest.set_meta("dirty", "0")
            self._refresh()
            return len(to_embed)

    def _present_in_chroma(self, ids: list[str]) -> set[str]:
        if not ids:
            return set()
        present: set[str] = set()
        step = self.chroma.get_max_batch_size()
        for i in range(0, len(ids), step):
            present.update(self.collection.get(ids=ids[i : i + step], include=[])["ids"])
        return present

    # -- reading ----------------------------------------------------------------------------------------
    def is_empty(self) -> bool:
        self._refresh()
        return not self._bm25.ids

    def __len__(self) -> int:
        self._refresh()
        return len(self._bm25)

    def sources(self) -> list[SourceRecord]:
        return self.manifest.sources()

    def source(self, source_id: str) -> SourceRecord | None:
        return self.manifest.source(source_id)

    def _hits(self, ranked: list[tuple[str, float]], **ranks: dict[str, int]) -> list[Hit]:
        records = {c.chunk_id: c for c in self.manifest.chunks([cid for cid, _ in ranked])}
        hits = []
        for chunk_id, score in ranked:
            chunk = records.get(chunk_id)
            if chunk is None:
                continue
            path, title = self._sources.get(chunk.source_id, ("", ""))
            hits.append(
                Hit(
                    chunk_id=chunk_id,
                    text=chunk.text,
                    source_id=chunk.source_id,
                    source=path,
                    title=title,
                    start=chunk.start,
                    end=chunk.end,
                    page=chunk.page,
                    score=score,
                    bm25_rank=ranks.get("bm25", {}).get(chunk_id),
                    dense_rank=ranks.get("dense", {}).get(chunk_id),
                    similarity=ranks.get("similarity", {}).get(chunk_id),
                )
            )
        return hits

    def bm25_ranking(self, query: str, k: int) -> list[tuple[str, float]]:
        """(chunk id, BM25 score), best first."""
        self._refresh()
        return self._bm25.search(query, k)

    def dense_ranking(self, query: str, k: int) -> list[tuple[str, float]]:
        """(chunk id, cosine similarity), best first; only chunks the committed manifest names."""
        self._refresh()
        if not self._live:
            return []
        return self.dense_rankings_by_vectors(self.embedder.embed_query(query)[None, :], k)[0]

    def embeddings(self, chunk_ids: Sequence[str]) -> np.ndarray:
        """The stored vectors of ``chunk_ids`` (in that order) as an ``(n, dim)`` array; no re-embedding."""
        if not chunk_ids:
            return np.zeros((0, 0), dtype=np.float32)
        flat = self._flat  # the in-memory copy, when dense search built one for this generation
        if flat is not None and flat.generation == self._generation:
            rows = [flat.rows.get(c, -1) for c in chunk_ids]
            if min(rows) >= 0:
                return flat.vectors[rows]
        return self._chroma_embeddings(chunk_ids)

    def _chroma_embeddings(self, chunk_ids: Sequence[str]) -> np.ndarray:
        found = self.collection.get(ids=list(chunk_ids), include=["embeddings"])
        by_id = dict(zip(found["ids"], found["embeddings"], strict=True))  # type: ignore[arg-type]
        missing = [cid for cid in chunk_ids if cid not in by_id]
        if missing:
            raise KeyError(f"{len(missing)} chunk ids are not in the store, e.g. {missing[0]}")
        return np.asarray([by_id[cid] for cid in chunk_ids], dtype=np.float32)

    def search_bm25(self, query: str, k: int | None = None) -> list[Hit]:
        ranked = self.bm25_ranking(query, k or self.settings.top_k)
        return self._hits(ranked, bm25={cid: i for i, (cid, _) in enumerate(ranked, 1)})

    def search_dense(self, query: str, k: int | None = None) -> list[Hit]:
        ranked = self.dense_ranking(query, k or self.settings.top_k)
        return self._hits(
            ranked,
            dense={cid: i for i, (cid, _) in enumerate(ranked, 1)},
            similarity=dict(ranked),
        )

    def search(self, query: str, k: int | None = None) -> list[Hit]:
        """Plain hybrid search: the BM25 and dense top candidates fused (``fuse_rankings``)."""
        s = self.settings
        bm25 = self.bm25_ranking(query, s.candidates)
        dense = self.dense_ranking(query, s.candidates)
        fused = fuse_rankings(
            [Ranking.of("bm25", s.bm25_weight, bm25), Ranking.of("dense", s.dense_weight, dense)]
        )
        return self._hits(
            [(f.chunk_id, f.score) for f in fused[: k or s.top_k]],
            bm25={cid: i for i, (cid, _) in enumerate(bm25, 1)},
            dense={cid: i for i, (cid, _) in enumerate(dense, 1)},
            similarity=dict(dense),
        )

    def close(self) -> None:
        self.manifest.close()

    # -- read-only helpers for the retrieval pipeline (issue 3) ---------------------------------------
    def bm25_weighted_ranking(
        self, terms: Sequence[tuple[str, float]], k: int, source_weight: float = 0.0
    ) -> list[tuple[str, float]]:
        """(chunk id, score) for already-tokenized, weighted BM25 terms (sum of weight x per-term BM25),
        best first; terms unknown to the index are ignored. Serves PRF expansions, whose terms carry
        weights a query string cannot express. With ``source_weight`` > 0 each chunk's score also gains
        that multiple of its whole source's BM25 score (a document prior; see ``SourceBm25``)."""
        self._refresh()
        bm25 = self._bm25
        if bm25.is_empty or k <= 0:  # before source_bm25(), which may build an index
            return []
        prior = self.source_bm25().chunk_scores(terms) if source_weight > 0 else None
        return bm25.weighted_ranking(terms, k, prior, source_weight)

    def source_bm25(self) -> SourceBm25:
        """The source-level BM25 index of the committed generation: loaded if an earlier process saved
        it beside the chunk index, else built from the manifest's chunks and saved there (best effort)."""
        self._refresh()
        index = self._source_bm25
        if index is not None:
            return index
        with self._derived_lock:
            if self._source_bm25 is None:
                bm25, directory = self._bm25, self._bm25_dir(self._generation) / "sources"
                try:
                    index = SourceBm25.load(directory, len(bm25.ids))
                except (OSError, ValueError):
                    index = SourceBm25.build(bm25.ids, self.manifest.chunks())
                    if directory.parent.is_dir():
                        with suppress(OSError):  # a writer may have moved on and removed the folder
                            index.save(directory)
                if bm25 is self._bm25:  # else a newer generation came in while we built
                    self._source_bm25 = index
                return index
            return self._source_bm25

    def bm25_document_frequency(self, terms: Sequence[str]) -> dict[str, int]:
        """How many chunks contain each BM25 term (terms absent from the index are left out)."""
        self._refresh()
        return self._bm25.document_frequency(terms)

    def bm25_vocabulary(self) -> set[str]:
        """The BM25 index's terms (stems), e.g. for spelling correction against the corpus."""
        self._refresh()
        return self._bm25.vocabulary()

    def flat_index(self) -> _FlatIndex | None:
        """Every live chunk vector in one in-memory matrix, when the store holds at most
        ``Settings.dense_exact_max_chunks`` chunks (else None): exact search by one matrix product, ~1 ms
        for 10k chunks, where a Chroma query costs a few. Chroma stays the store of record; the matrix is a
        read-only copy of the committed generation, fetched once (no re-embedding)."""
        self._refresh()
        limit = self.settings.dense_exact_max_chunks
        if not self._live or len(self._bm25.ids) > limit:
            return None
        flat = self._flat
        if flat is not None and flat.generation == self._generation:
            return flat
        with self._derived_lock:
            flat = self._flat
            if flat is None or flat.generation != self._generation:
                generation, ids = self._generation, list(self._bm25.ids)
                step = max(1, min(self.chroma.get_max_batch_size(), 5000))
                try:
                    parts = [self._chroma_embeddings(ids[i : i + step]) for i in range(0, len(ids), step)]
                except KeyError:  # Chroma lags the manifest (mid-reconcile): search Chroma this time
                    return None
                flat = _FlatIndex(generation, ids, {c: i for i, c in enumerate(ids)}, np.concatenate(parts))
                self._flat = flat
            return flat

    def dense_rankings_by_vectors(self, vectors: np.ndarray, k: int) -> list[list[tuple[str, float]]]:
        """One (chunk id, cosine) ranking per query vector: exact, in memory, for stores small enough for
        ``flat_index``; else in one Chroma call (HNSW). No embedding either way."""
        self._refresh()
        if not self._live or len(vectors) == 0:
            return [[] for _ in range(len(vectors))]
        flat = self.flat_index()
        if flat is not None:
            return flat.search(np.asarray(vectors, dtype=np.float32), k)
        # A little extra: while a writer is mid-ingest Chroma may hold vectors the manifest does not name yet.
        fetch = min(len(self._live), k) + 10
        result = self.collection.query(
            query_embeddings=[np.asarray(v, dtype=np.float32) for v in vectors],  # type: ignore[arg-type]
            n_results=fetch,
            include=["distances"],  # type: ignore[list-item]
        )
        return [
            [(cid, 1.0 - float(d)) for cid, d in zip(ids, dists, strict=True) if cid in self._live][:k]
            for ids, dists in zip(result["ids"], result["distances"], strict=True)  # type: ignore[arg-type]
        ]


_BLAS_LOCK = threading.Lock()


@cache
def _blas_threads() -> ThreadpoolController:
    """The process's BLAS/OpenMP libraries, found once (a fresh lookup costs 0.4 ms; a limit 12 us)."""
    return ThreadpoolController()


@dataclass(frozen=True)
class _FlatIndex:
    """All chunk vectors of one BM25 generation, rows in the BM25 index's id order."""

    generation: int
    ids: list[str]
    rows: dict[str, int]
    vectors: np.ndarray  # (n, dim) float32, L2-normalised

    def search(self, queries: np.ndarray, k: int) -> list[list[tuple[str, float]]]:
        """Top ``k`` (chunk id, cosine) per query row, best first (ties: lower row first)."""
        # One BLAS thread: the product is memory-bound (0.7 ms for 13k chunks), and OpenBLAS's workers
        # keep spinning after a threaded call, fighting torch's encoder threads for the same cores. On 2
        # cores that doubled the next query embedding and put p95 retrieval at 100 ms instead of 20.
        # The limit is process-wide: the lock keeps concurrent searches from restoring each other's saved
        # setting out of order (which would leave BLAS at one thread for good).
        with _BLAS_LOCK, _blas_threads().limit(limits=1, user_api="blas"):
            sims = queries @ self.vectors.T
        k = min(k, sims.shape[1])
        out: list[list[tuple[str, float]]] = []
        for row in sims:
            top = np.argpartition(-row, k - 1)[:k]
            top = top[np.lexsort((top, -row[top]))]
            out.append([(self.ids[i], float(row[i])) for i in top])
        return out
