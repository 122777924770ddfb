"""Ingest throughput and peak memory, against raw SentenceTransformer.encode of the same chunk texts.

    python benchmarks/ingest_throughput.py --corpus citegraph/demo_corpus \
        --json benchmarks/results/ingest_demo.json
    python benchmarks/ingest_throughput.py --beir ../shared/data/scifact \
        --json benchmarks/results/ingest_scifact.json

Each measurement runs in a fresh process (so peak RSS is its own): `raw` encodes the chunk texts with
SentenceTransformer.encode in one call (what the store must not add much to); `ingest` runs the real
`ingest_paths` into an empty store (read, parse, chunk, embed, Chroma upsert, BM25 build, manifest commit).
They alternate (raw, ingest, raw, ...) so machine noise hits both; the ratio is ingest / raw chunks per
second, by wall time and by CPU time (the latter barely moved by other load on the machine).
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import resource
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import machine, save, write_beir_as_files


def chunk_texts(folder: Path, chunk_size: int, chunk_overlap: int) -> list[str]:
    """The exact chunk texts the ingest will embed."""
    from citegraph.ingest.loaders import read_bytes
    from citegraph.ingest.pipeline import discover, prepare
    from citegraph.settings import Settings

    settings = Settings(
        store_dir=Path(tempfile.mkdtemp()), chunk_size=chunk_size, chunk_overlap=chunk_overlap
    )
    files, _ = discover([folder])
    texts = []
    for path in files:
        source, _ = prepare(path, read_bytes(path, 10**9), settings)
        texts.extend(c.text for c in source.chunks)
    return texts


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


def cpu_seconds() -> float:
    """User + system CPU time of this process: far less disturbed than wall time by other load."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def run_raw(texts: list[str], batch_size: int, queue: mp.Queue) -> None:
    from sentence_transformers import SentenceTransformer

    from citegraph.models.paths import bundled_embedding_path

    # Plain sentence-transformers on torch, whatever backend the store embeds with
    # (CITEGRAPH_EMBEDDING_BACKEND): the reference the ingest path is measured against.
    model = SentenceTransformer(str(bundled_embedding_path()), device="cpu", local_files_only=True)
    model.encode(texts[:batch_size])  # warm-up, as the ingest's first batch also pays it
    started, cpu_started = time.perf_counter(), cpu_seconds()
    model.encode(texts, batch_size=batch_size, normalize_embeddings=True)
    seconds, cpu = time.perf_counter() - started, cpu_seconds() - cpu_started
    queue.put(
        {
            "seconds": seconds,
            "cpu_seconds": cpu,
            "chunks_per_s": len(texts) / seconds,
            "peak_rss_mb": peak_rss_mb(),
        }
    )


def run_ingest(folder: Path, chunk_size: int, chunk_overlap: int, queue: mp.Queue) -> None:
    from citegraph.ingest.pipeline import ingest_paths
    from citegraph.retrieval.store import HybridStore
    from citegraph.settings import Settings

    with tempfile.TemporaryDirectory() as store_dir:
        settings = Settings(store_dir=store_dir, chunk_size=chunk_size, chunk_overlap=chunk_overlap)
        store = HybridStore(settings)
        store.embedder.embed_documents(["warm-up"])  # model load is not ingest work; raw excludes it too
        started, cpu_started = time.perf_counter(), cpu_seconds()
        report = ingest_paths(store, [folder], settings)
        seconds, cpu = time.perf_counter() - started, cpu_seconds() - cpu_started
        assert report.ok, report.failed
        chunks = len(store)
        queue.put(
            {
                "seconds": seconds,
                "cpu_seconds": cpu,
                "chunks": chunks,
                "chunks_per_s": chunks / seconds,
                "files_per_s": report.count("added") / seconds,
                "peak_rss_mb": peak_rss_mb(),
            }
        )


def in_fresh_process(target: Callable[..., None], *args: object) -> dict:
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=target, args=(*args, queue))
    proc.start()
    result = queue.get()
    proc.join()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--corpus", type=Path, help="a folder of documents")
    source.add_argument(
        "--beir", type=Path, help="a BEIR folder (corpus.jsonl); each doc becomes a .txt file"
    )
    parser.add_argument("--limit", type=int, help="only the first N BEIR documents")
    parser.add_argument("--rounds", type=int, default=1, help="raw/ingest pairs to run")
    parser.add_argument("--chunk-size", type=int, default=800)
    parser.add_argument("--chunk-overlap", type=int, default=120)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        folder = args.corpus
        documents = None
        if args.beir:
            folder = Path(tmp) / "docs"
            documents = write_beir_as_files(args.beir, folder, args.limit)
        texts = chunk_texts(folder, args.chunk_size, args.chunk_overlap)
        raws, ingests = [], []
        for _ in range(args.rounds):
            raws.append(in_fresh_process(run_raw, texts, args.batch_size))
            ingests.append(in_fresh_process(run_ingest, folder, args.chunk_size, args.chunk_overlap))
            print(
                f"raw {raws[-1]['chunks_per_s']:.1f} chunks/s, ingest {ingests[-1]['chunks_per_s']:.1f}",
                file=sys.stderr,
            )

    raw_rate = statistics.median(r["chunks_per_s"] for r in raws)
    ingest_rate = statistics.median(r["chunks_per_s"] for r in ingests)
    save(
        {
            "benchmark": "ingest_throughput",
            "corpus": str(args.beir or args.corpus),
            "documents": documents if args.beir else sum(1 for p in Path(folder).rglob("*") if p.is_file()),
            "chunks": len(texts),
            "mean_chunk_chars": round(statistics.mean(map(len, texts)), 1),
            "chunk_size": args.chunk_size,
            "batch_size": args.batch_size,
            "rounds": args.rounds,
            "raw_encode_chunks_per_s": round(raw_rate, 2),
            "ingest_chunks_per_s": round(ingest_rate, 2),
            "ingest_to_raw_ratio": round(ingest_rate / raw_rate, 3),
            # The same ratio by CPU time (raw CPU s / ingest CPU s): robust to other load on the machine.
            "ingest_to_raw_ratio_cpu_time": round(
                statistics.median(r["cpu_seconds"] for r in raws)
                / statistics.median(r["cpu_seconds"] for r in ingests),
                3,
            ),
            "ingest_cpu_seconds": [round(r["cpu_seconds"], 2) for r in ingests],
            "raw_cpu_seconds": [round(r["cpu_seconds"], 2) for r in raws],
            "ingest_seconds": [round(r["seconds"], 2) for r in ingests],
            "raw_seconds": [round(r["seconds"], 2) for r in raws],
            "ingest_peak_rss_mb": round(max(r["peak_rss_mb"] for r in ingests), 1),
            "raw_peak_rss_mb": round(max(r["peak_rss_mb"] for r in raws), 1),
            "machine": machine(),
        },
        args.json,
    )


if __name__ == "__main__":
    main()
