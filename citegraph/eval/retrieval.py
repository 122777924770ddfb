"""``citegraph eval retrieval``: score the pipeline, its ablations and the baselines on a BEIR folder.

All systems search the same chunks with the same embedding model, in one run, query by query in rotating
order, so CPU noise from other processes falls on all of them alike. Latency is per query, after a warm-up.
"""

from __future__ import annotations

import platform
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from citegraph.eval.beir import (
    BeirDataset,
    dataset_key,
    default_cache_root,
    doc_id_of,
    ingest_beir,
    load_beir,
)
from citegraph.eval.metrics import dedupe, summarize
from citegraph.settings import Settings

System = Callable[[str], list[str]]  # query -> document ids, best first

# Pipeline settings switched off by each ablation.
ABLATIONS: dict[str, dict[str, Any]] = {
    "citegraph_no_multi_query": {"multi_query": False},
    "citegraph_no_prf": {"prf": False},
    "citegraph_no_mmr": {"mmr": False},
    "citegraph_no_source_prior": {"bm25_source_weight": 0.0},
    "citegraph_plain_hybrid": {"multi_query": False, "prf": False, "mmr": False, "bm25_source_weight": 0.0},
}
_DEPTH = 300  # chunks fetched by the single-retriever baselines: enough for 100 distinct documents


@dataclass
class EvalConfig:
    """What to run."""

    dataset: Path
    split: str = "test"
    cache_dir: Path | None = None
    limit: int | None = None  # first N queries only (smoke runs)
    warmup: int = 5
    systems: tuple[str, ...] = ()  # empty: all
    settings: dict[str, Any] | None = None  # pipeline setting overrides


def open_eval_store(folder: Path, settings: Settings, cache_dir: Path | None, log: Callable[[str], None]):  # type: ignore[no-untyped-def]
    """The cached store of ``folder`` (ingested on first use, resumed if interrupted)."""
    from citegraph.retrieval.store import HybridStore

    data = load_beir(folder, "test")
    root = (cache_dir or default_cache_root()) / f"{data.name}-{dataset_key(folder, settings)}"
    store_settings = settings.model_copy(update={"store_dir": root / "store"})
    store = HybridStore(store_settings)
    known = len(store.manifest.source_hashes())
    if known < sum(1 for t in data.corpus.values() if (t[0] or t[1]).strip()):
        log(f"ingesting {len(data.corpus)} documents into {root} (once; later runs reuse it)")
        started = time.perf_counter()
        ingest_beir(store, data, store_settings, lambda d, n: log(f"  {d}/{n} documents"))
        log(f"  done in {time.perf_counter() - started:.0f}s")
    return store, store_settings


def chunk_to_doc(store: Any) -> dict[str, str]:
    """chunk id -> BEIR document id, for every chunk in the store."""
    paths = {s.source_id: s.path for s in store.sources()}
    return {
        c.chunk_id: doc_id_of(paths[c.source_id]) for c in store.manifest.chunks() if c.source_id in paths
    }


def langchain_ensemble(store: Any, settings: Settings, to_doc: dict[str, str], k: int) -> System:
    """LangChain's own hybrid: EnsembleRetriever([BM25Retriever, Chroma retriever], weights=[0.5, 0.5])
    over the same chunks and the same embedding model (the Chroma collection the store already holds)."""
    from langchain_chroma import Chroma
    from langchain_classic.retrievers import EnsembleRetriever
    from langchain_community.retrievers import BM25Retriever

    chunks = store.manifest.chunks()
    bm25 = BM25Retriever.from_texts(
        [c.text for c in chunks], metadatas=[{"chunk_id": c.chunk_id} for c in chunks], k=k
    )
    chroma = Chroma(
        client=store.chroma, collection_name=settings.collection, embedding_function=store.embedder.langchain
    )
    ensemble = EnsembleRetriever(
        retrievers=[bm25, chroma.as_retriever(search_kwargs={"k": k})], weights=[0.5, 0.5]
    )

    def run(query: str) -> list[str]:
        docs = ensemble.invoke(query)
        return [to_doc.get(d.metadata.get("chunk_id") or d.id or "", "") for d in docs]

    return run


def build_systems(store: Any, settings: Settings, names: tuple[str, ...]) -> dict[str, System]:
    """The systems to compare, by name."""
    from citegraph.retrieval.pipeline import RetrievalPipeline

    to_doc = chunk_to_doc(store)
    pipeline = RetrievalPipeline(store, settings)

    def docs(chunk_ids: list[str]) -> list[str]:
        return dedupe(to_doc.get(c, "") for c in chunk_ids)

    systems: dict[str, System] = {
        "citegraph": lambda q: docs(pipeline.run(q).ranked_ids()),
        "bm25": lambda q: docs([c for c, _ in store.bm25_ranking(q, _DEPTH)]),
        "dense": lambda q: docs([c for c, _ in store.dense_ranking(q, _DEPTH)]),
    }
    for name, changes in ABLATIONS.items():
        # Its own pipeline (own caches): a query embedded by one system must not time as free in another.
        variant = RetrievalPipeline(store, settings.model_copy(update=changes))
        systems[name] = lambda q, p=variant: docs(p.run(q).ranked_ids())
    if not names or "langchain_ensemble" in names:
        systems["langchain_ensemble"] = langchain_ensemble(store, settings, to_doc, k=100)
    systems.update(representation_systems(store, names, docs))
    return {n: f for n, f in systems.items() if not names or n in names}


def representation_systems(
    store: Any, names: tuple[str, ...], docs: Callable[[list[str]], list[str]]
) -> dict[str, System]:
    """Bag of words, TF-IDF and averaged word2vec over the store's chunks (see eval/representations.py);
    the MiniLM representation is the ``dense`` system. Built only when named (``--system tfidf``): word2vec
    trains here, and a default run should cost what it did."""
    from citegraph.eval.representations import REPRESENTATIONS, representation_rankers

    wanted = [n for n in REPRESENTATIONS if n in names]
    if not wanted:
        return {}
    chunks = store.manifest.chunks()
    ids = [c.chunk_id for c in chunks]
    rankers = representation_rankers([c.text for c in chunks], wanted)
    return {n: (lambda q, r=r: docs([ids[i] for i in r(q, _DEPTH)])) for n, r in rankers.items()}


def evaluate(config: EvalConfig, log: Callable[[str], None] = print) -> dict[str, Any]:
    """Run every system on the split's queries and return the results JSON."""
    base = Settings(**(config.settings or {}))
    store, settings = open_eval_store(config.dataset, base, config.cache_dir, log)
    data: BeirDataset = load_beir(config.dataset, config.split)
    query_ids = (
        sorted(data.queries, key=lambda q: (len(q), q))[: config.limit]
        if config.limit
        else list(data.queries)
    )
    qrels = {q: data.qrels[q] for q in query_ids}
    systems = build_systems(store, settings, config.systems)
    names = list(systems)
    log(f"{len(query_ids)} {config.split} queries x {len(names)} systems: {', '.join(names)}")
    for qid in query_ids[: config.warmup]:  # warm caches, lazy imports and the model before timing
        for fn in systems.values():
            fn(data.queries[qid])
    rankings: dict[str, dict[str, list[str]]] = {n: {} for n in names}
    latencies: dict[str, list[float]] = {n: [] for n in names}
    for i, qid in enumerate(query_ids):
        order = names[i % len(names) :] + names[: i % len(names)]  # rotate who runs first
        for name in order:
            started = time.perf_counter()
            ranking = systems[name](data.queries[qid])
            latencies[name].append((time.perf_counter() - started) * 1000)
            rankings[name][qid] = ranking
        if (i + 1) % 50 == 0:
            log(f"  {i + 1}/{len(query_ids)} queries")
    result = {
        "dataset": data.name,
        "split": config.split,
        "docs": len(data.corpus),
        "chunks": len(store),
        "queries": len(query_ids),
        "systems": {n: summarize(rankings[n], qrels, latencies[n]) for n in names},
        "settings": {k: v for k, v in settings.model_dump(mode="json").items() if k != "store_dir"},
        "machine": {"python": platform.python_version(), "cpus": _cpus(), "platform": platform.platform()},
    }
    store.close()
    return result


def _cpus() -> int:
    import os

    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 0)
