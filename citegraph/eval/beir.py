"""BEIR-format datasets (corpus.jsonl, queries.jsonl, qrels/<split>.tsv): reading, and ingesting them.

Each BEIR document becomes one source whose path is ``beir://<dataset>/<_id>``, chunked with the normal
chunker, so retrieved chunks map back to the document ids the qrels judge.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from citegraph.settings import Settings

if TYPE_CHECKING:
    from citegraph.retrieval.manifest import PreparedSource
    from citegraph.retrieval.store import HybridStore

_PREFIX = "beir://"
_BATCH = 1000  # documents per store.commit: bounds memory and lets an interrupted ingest resume


@dataclass
class BeirDataset:
    """A BEIR folder loaded in memory."""

    name: str
    path: Path
    corpus: dict[str, tuple[str, str]]  # doc id -> (title, text)
    queries: dict[str, str]
    qrels: dict[str, dict[str, int]]  # query id -> {doc id: relevance}


def read_qrels(path: Path) -> dict[str, dict[str, int]]:
    """``query-id corpus-id score`` TSV (header optional) -> {query id: {doc id: score}}."""
    qrels: dict[str, dict[str, int]] = {}
    with open(path, newline="", encoding="utf-8") as handle:
        for row in csv.reader(handle, delimiter="\t"):
            if len(row) < 3 or row[0] == "query-id":
                continue
            qrels.setdefault(row[0], {})[row[1]] = int(row[2])
    return qrels


def load_beir(folder: Path | str, split: str = "test") -> BeirDataset:
    """Read a BEIR folder; only queries judged in ``qrels/<split>.tsv`` are kept."""
    folder = Path(folder).expanduser()
    for needed in ("corpus.jsonl", "queries.jsonl", f"qrels/{split}.tsv"):
        if not (folder / needed).is_file():
            raise FileNotFoundError(f"{folder} is not a BEIR folder: {needed} is missing")
    corpus: dict[str, tuple[str, str]] = {}
    with open(folder / "corpus.jsonl", encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                doc = json.loads(line)
                corpus[str(doc["_id"])] = (doc.get("title") or "", doc.get("text") or "")
    qrels = read_qrels(folder / "qrels" / f"{split}.tsv")
    queries: dict[str, str] = {}
    with open(folder / "queries.jsonl", encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                q = json.loads(line)
                if str(q["_id"]) in qrels:
                    queries[str(q["_id"])] = q["text"]
    qrels = {qid: rel for qid, rel in qrels.items() if qid in queries}
    return BeirDataset(folder.resolve().name, folder, corpus, queries, qrels)


def doc_text(title: str, text: str) -> str:
    """The usual BEIR convention: title, blank line, body."""
    return f"{title}\n\n{text}" if title else text


def doc_id_of(source_path: str) -> str:
    """``beir://scifact/123`` -> ``123``."""
    return source_path.rsplit("/", 1)[-1]


def dataset_key(folder: Path, settings: Settings) -> str:
    """Cache key: corpus bytes + the settings that shape the index (chunking, embedding model)."""
    digest = hashlib.sha256()
    with open(folder / "corpus.jsonl", "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    model = str(settings.embedding_model or "bundled-all-MiniLM-L6-v2")
    digest.update(f"|{settings.chunk_size}|{settings.chunk_overlap}|{model}|v1".encode())
    return digest.hexdigest()[:16]


def default_cache_root() -> Path:
    """``$XDG_CACHE_HOME/citegraph/eval`` (``~/.cache/citegraph/eval``)."""
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache) / "citegraph" / "eval"


def prepare_doc(dataset: str, doc_id: str, title: str, text: str, settings: Settings) -> PreparedSource:
    """One BEIR document as a PreparedSource (chunked like any file)."""
    from citegraph.ingest.loaders import LoadedDocument
    from citegraph.ingest.pipeline import chunk_document, source_id_for
    from citegraph.retrieval.manifest import PreparedSource, SourceRecord

    key = f"{_PREFIX}{dataset}/{doc_id}"
    body = doc_text(title, text)
    digest = hashlib.sha256(body.encode()).hexdigest()
    loaded = LoadedDocument(Path(key), "beir", title or doc_id, body, digest)
    chunks = chunk_document(loaded, key, settings)
    record = SourceRecord(source_id_for(key), key, "beir", title or doc_id, digest, body, (), time.time())
    return PreparedSource(record, chunks)


def ingest_beir(
    store: HybridStore,
    data: BeirDataset,
    settings: Settings,
    progress: Callable[[int, int], None] | None = None,
) -> int:
    """Commit every document not yet in ``store`` (resumable: batches already committed are skipped)."""
    known = {doc_id_of(p) for p in store.manifest.source_hashes()}
    todo = [(d, t) for d, t in data.corpus.items() if d not in known and (t[0] or t[1]).strip()]
    done = len(data.corpus) - len(todo)
    embedded = 0
    for i in range(0, len(todo), _BATCH):
        batch = [prepare_doc(data.name, d, t[0], t[1], settings) for d, t in todo[i : i + _BATCH]]
        embedded += store.commit([b for b in batch if b.chunks], [])
        done += len(batch)
        if progress:
            progress(done, len(data.corpus))
    return embedded
