"""The embedder three ways, side by side in one run: torch (sentence-transformers) vs ONNX Runtime fp32 vs
ONNX Runtime int8 (dynamic quantization), and optionally the scratch GPT in ORT vs torch.

    nice -n 10 python benchmarks/onnx_embedder.py --beir ../shared/data/scifact \
        --json benchmarks/results/onnx_embedder.json
    nice -n 10 python benchmarks/onnx_embedder.py --scratch RUN --json benchmarks/results/onnx_scratch.json

Embedder figures, each through ``citegraph.retrieval.embeddings.Embedder`` (the production path):
- first use: a fresh process with an empty cache (ORT: exports the graph, then answers one query) vs one
  whose cache is warm, vs torch's first query (loading sentence-transformers);
- per-query latency: one short query at a time (the SciFact test queries), the three encoders interleaved
  query by query in a rotating order so machine noise hits each alike; p50/p95 and ratios to torch;
- batch ingest throughput: demo-corpus chunks (the store's 800-character chunks) through
  ``embed_documents`` with the store's batch size, rounds in rotating order;
- cosine to torch of every vector made (chunks, queries, SciFact abstracts, a set of Thai / long texts);
- SciFact test nDCG@10 with dense-only retrieval over whole abstracts (title + text, truncated at 256
  tokens like every MiniLM input): each encoder embeds the corpus and the queries, cosine top 10, scored
  with ``citegraph.eval.metrics``. Nothing is tuned. Not comparable with the chunked store's figures in
  scifact_retrieval.json.

Threads are fixed (``--threads``, torch and ORT alike) and written into the JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import machine, save

BACKENDS = ("torch", "onnx", "onnx-int8")
EXTRA_TEXTS = [
    "what is a cat?",
    "ภาษาไทยเป็นภาษาราชการของประเทศไทย แมวเป็นสัตว์เลี้ยงที่นิยม",
    "ไทย " * 300,
    "Sherlock Holmes took his bottle from the corner of the mantel-piece. " * 30,
    "x",
]
FIRST_USE = """
import os, sys, time
started = time.perf_counter()
from citegraph.retrieval.embeddings import Embedder
e = Embedder(backend=sys.argv[1], threads={threads})
e.embed_query("how do cats sleep?")
print(time.perf_counter() - started, e.export_seconds)
"""


def percentile(values: list[float], q: float) -> float:
    """numpy's linear-interpolation percentile."""
    return float(np.percentile(values, q))


def first_use(backend: str, cache: Path, threads: int) -> dict[str, float]:
    """Seconds from a bare interpreter to the first query vector (import, load or export, embed)."""
    env = {**os.environ, "XDG_CACHE_HOME": str(cache), "OMP_NUM_THREADS": str(threads)}
    code = FIRST_USE.format(threads=threads)
    if backend == "torch":
        code = f"import torch; torch.set_num_threads({threads})\n" + code
    done = subprocess.run(
        [sys.executable, "-c", code, backend], env=env, capture_output=True, text=True, check=True
    )
    total, export = (float(x) for x in done.stdout.split()[-2:])
    return {"first_query_s": round(total, 2), "export_s": round(export, 2)}


def demo_chunks(limit: int) -> list[str]:
    """The store's chunks (800 characters, 120 overlap) of the bundled demo corpus, the first ``limit``."""
    from citegraph.ingest.chunking import chunk_spans

    root = Path(__file__).resolve().parents[1] / "citegraph" / "demo_corpus"
    chunks: list[str] = []
    for path in sorted(root.glob("*.txt")):
        text = path.read_text(encoding="utf-8")
        chunks.extend(text[s:e] for s, e in chunk_spans(text, 800, 120))
    return chunks[:limit]


def rotate(items: tuple[str, ...], r: int) -> list[str]:
    """``items`` started at position ``r``: each encoder goes first, second and third in turn."""
    r %= len(items)
    return list(items[r:] + items[:r])


def embedder_benchmark(args: argparse.Namespace) -> dict:
    """All embedder figures; see the module docstring."""
    import torch

    from citegraph.eval.beir import doc_text, load_beir
    from citegraph.eval.metrics import ndcg_at_k
    from citegraph.models.export import cosines
    from citegraph.retrieval.embeddings import Embedder

    torch.set_num_threads(args.threads)
    result: dict = {"threads": args.threads, "machine": machine(), "backends": list(BACKENDS)}

    # First use, each in a fresh process; the cold ORT runs share one empty cache, fp32 first (int8 is made
    # from the fp32 file, so its figure is the quantization alone).
    with tempfile.TemporaryDirectory() as cold:
        result["first_use"] = {
            "torch": first_use("torch", Path(cold), args.threads),
            "onnx_cold_cache": first_use("onnx", Path(cold), args.threads),
            "onnx_warm_cache": first_use("onnx", Path(cold), args.threads),
            "onnx-int8_cold_cache_after_fp32": first_use("onnx-int8", Path(cold), args.threads),
            "onnx-int8_warm_cache": first_use("onnx-int8", Path(cold), args.threads),
        }
    print("first use:", result["first_use"], flush=True)

    encoders = {b: Embedder(batch_size=args.batch_size, backend=b, threads=args.threads) for b in BACKENDS}
    for encoder in encoders.values():  # load (and export into the user cache) before any timing
        encoder.embed_query("warm up")

    data = load_beir(args.beir, "test")
    qids = sorted(data.queries)
    queries = [data.queries[q] for q in qids]

    # Per-query latency, interleaved.
    latency: dict[str, list[float]] = {b: [] for b in BACKENDS}
    query_vectors: dict[str, list[np.ndarray]] = {b: [] for b in BACKENDS}
    for i, query in enumerate(queries[: args.latency_queries]):
        for backend in rotate(BACKENDS, i):
            started = time.perf_counter()
            vector = encoders[backend].embed_query(query)
            latency[backend].append((time.perf_counter() - started) * 1000)
            query_vectors[backend].append(vector)
    result["query_latency_ms"] = {
        b: {"p50": round(percentile(v, 50), 2), "p95": round(percentile(v, 95), 2), "n": len(v)}
        for b, v in latency.items()
    }
    torch_p50 = result["query_latency_ms"]["torch"]["p50"]
    torch_p95 = result["query_latency_ms"]["torch"]["p95"]
    result["query_speedup_vs_torch"] = {
        b: {
            "p50": round(torch_p50 / result["query_latency_ms"][b]["p50"], 2),
            "p95": round(torch_p95 / result["query_latency_ms"][b]["p95"], 2),
        }
        for b in BACKENDS
    }
    print("latency:", result["query_latency_ms"], result["query_speedup_vs_torch"], flush=True)
    if args.latency_only:
        single = {b: np.stack(v) for b, v in query_vectors.items()}
        result["cosine_to_torch"] = {
            b: {"min": round(float(cosines(single[b], single["torch"]).min()), 6), "set": "single_queries"}
            for b in ("onnx", "onnx-int8")
        }
        return result

    # Batch ingest throughput, rounds rotating.
    chunks = demo_chunks(args.chunks)
    seconds: dict[str, list[float]] = {b: [] for b in BACKENDS}
    chunk_vectors: dict[str, np.ndarray] = {}
    for r in range(args.rounds):
        for backend in rotate(BACKENDS, r):
            started = time.perf_counter()
            chunk_vectors[backend] = encoders[backend].embed_documents(chunks)
            seconds[backend].append(time.perf_counter() - started)
    result["ingest"] = {
        "chunks": len(chunks),
        "mean_chars": round(statistics.mean(len(c) for c in chunks)),
        "batch_size": args.batch_size,
        "rounds": args.rounds,
        "texts_per_s": {b: round(len(chunks) / statistics.median(s), 1) for b, s in seconds.items()},
    }
    torch_rate = result["ingest"]["texts_per_s"]["torch"]
    result["ingest"]["speedup_vs_torch"] = {
        b: round(rate / torch_rate, 2) for b, rate in result["ingest"]["texts_per_s"].items()
    }
    print("ingest:", result["ingest"], flush=True)

    # SciFact, dense only: each encoder embeds the corpus (rotating slices share the noise) and queries.
    doc_ids = sorted(data.corpus)
    if args.docs and args.docs < len(doc_ids):
        # A stated subset: every judged document plus the first others by id, so nDCG stays meaningful.
        judged = {d for rel in data.qrels.values() for d in rel}
        others = [d for d in doc_ids if d not in judged][: max(0, args.docs - len(judged))]
        doc_ids = sorted(judged | set(others))
    texts = [doc_text(*data.corpus[d]) for d in doc_ids]
    corpus_vectors: dict[str, list[np.ndarray]] = {b: [] for b in BACKENDS}
    corpus_seconds = dict.fromkeys(BACKENDS, 0.0)
    step = 512
    for n, start in enumerate(range(0, len(texts), step)):
        for backend in rotate(BACKENDS, n):
            started = time.perf_counter()
            corpus_vectors[backend].append(encoders[backend].embed_documents(texts[start : start + step]))
            corpus_seconds[backend] += time.perf_counter() - started
        print(f"scifact corpus {min(start + step, len(texts))}/{len(texts)}", flush=True)
    matrices = {b: np.concatenate(v) for b, v in corpus_vectors.items()}
    scifact: dict = {
        "split": "test",
        "queries": len(qids),
        "docs": len(doc_ids),
        "docs_note": "full corpus" if len(doc_ids) == len(data.corpus) else "judged docs + others (subset)",
        "corpus_texts_per_s": {b: round(len(texts) / s, 1) for b, s in corpus_seconds.items()},
        "ndcg@10": {},
    }
    all_query_vectors: dict[str, np.ndarray] = {}
    for backend in BACKENDS:
        all_query_vectors[backend] = encoders[backend].embed_documents(queries)
        scores = all_query_vectors[backend] @ matrices[backend].T
        top = np.argsort(-scores, axis=1)[:, :10]
        ndcg = [
            ndcg_at_k([doc_ids[j] for j in row], data.qrels[q], 10) for q, row in zip(qids, top, strict=True)
        ]
        scifact["ndcg@10"][backend] = round(float(np.mean(ndcg)), 4)
    scifact["ndcg@10_change_vs_torch"] = {
        b: round(scifact["ndcg@10"][b] - scifact["ndcg@10"]["torch"], 4) for b in BACKENDS
    }
    result["scifact_dense"] = scifact
    print("scifact:", scifact, flush=True)

    # Cosine to torch over every vector made.
    extra = {b: encoders[b].embed_documents(EXTRA_TEXTS) for b in BACKENDS}
    result["cosine_to_torch"] = {}
    for backend in ("onnx", "onnx-int8"):
        parts = {
            "queries": cosines(all_query_vectors[backend], all_query_vectors["torch"]),
            "single_queries": cosines(np.stack(query_vectors[backend]), np.stack(query_vectors["torch"])),
            "demo_chunks": cosines(chunk_vectors[backend], chunk_vectors["torch"]),
            "scifact_docs": cosines(matrices[backend], matrices["torch"]),
            "thai_and_long": cosines(extra[backend], extra["torch"]),
        }
        every = np.concatenate(list(parts.values()))
        result["cosine_to_torch"][backend] = {
            "min": round(float(every.min()), 6),
            "mean": round(float(every.mean()), 6),
            "n": int(every.size),
            "min_by_set": {k: round(float(v.min()), 6) for k, v in parts.items()},
        }
    print("cosine:", result["cosine_to_torch"], flush=True)
    return result


def scratch_benchmark(args: argparse.Namespace) -> dict:
    """Greedy tokens of a scratch checkpoint: ORT (no cache) vs torch (``generate_ids``, KV cache)."""
    import torch

    from citegraph.models import export
    from citegraph.models.scratch.generate import load_model

    torch.set_num_threads(args.threads)
    model, tokenizer = load_model(args.scratch)
    config = model.config
    with tempfile.TemporaryDirectory() as folder:
        started = time.perf_counter()
        path = export.export_gpt_onnx(model, Path(folder) / "gpt.onnx")
        export_s = time.perf_counter() - started
        onnx_mb = path.stat().st_size / 2**20
        session = export.ort_session(path, args.threads)
        prompts = ["ROMEO:\n", "First Citizen:\nBefore we proceed", "The king"]
        runs = []
        for prompt in prompts:
            ids = tokenizer.encode(prompt)
            t0 = time.perf_counter()
            want = export.torch_greedy(model, ids, args.tokens)
            t1 = time.perf_counter()
            got = export.ort_greedy(session, ids, args.tokens, config.block_size)
            t2 = time.perf_counter()
            first_diff = next((i for i, (a, b) in enumerate(zip(want, got, strict=True)) if a != b), None)
            runs.append(
                {
                    "prompt": prompt,
                    "tokens": len(want),
                    "identical": want == got,
                    "first_difference_at": first_diff,
                    "torch_kv_cache_tokens_per_s": round(len(want) / (t1 - t0), 1),
                    "ort_no_cache_tokens_per_s": round(len(got) / (t2 - t1), 1),
                }
            )
            print(runs[-1], flush=True)
    log = args.scratch / "log.json"
    training = json.loads(log.read_text(encoding="utf-8")) if log.is_file() else {}
    return {
        "checkpoint": str(args.scratch),
        "training": {k: training.get(k) for k in ("iters", "best_val_loss", "train_seconds", "tokens_seen")},
        "training_data": training.get("train_config", {}).get("data"),
        "model_config": config.to_dict(),
        "params": model.num_params(),
        "threads": args.threads,
        "export_s": round(export_s, 2),
        "onnx_mb": round(onnx_mb, 1),
        "runs": runs,
        "all_identical": all(r["identical"] for r in runs),
        "machine": machine(),
    }


def main() -> None:
    """Parse arguments, run one benchmark, print and save its JSON."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--beir", type=Path, default=Path("../shared/data/scifact"), help="SciFact folder")
    parser.add_argument("--threads", type=int, default=2, help="torch and ORT intra-op threads")
    parser.add_argument("--batch-size", type=int, default=16, help="embed batch (the store's default)")
    parser.add_argument("--latency-queries", type=int, default=300, help="single queries timed per encoder")
    parser.add_argument("--chunks", type=int, default=512, help="demo-corpus chunks for ingest throughput")
    parser.add_argument("--rounds", type=int, default=3, help="ingest rounds per encoder")
    parser.add_argument("--docs", type=int, default=0, help="SciFact docs to embed (0: all)")
    parser.add_argument("--scratch", type=Path, help="a scratch run folder: benchmark the GPT instead")
    parser.add_argument("--tokens", type=int, default=300, help="greedy tokens per prompt (scratch)")
    parser.add_argument("--latency-only", action="store_true", help="first use and query latency only")
    parser.add_argument("--note", default="", help="a remark saved with the result")
    parser.add_argument("--json", type=Path, help="where to save the result")
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    result = scratch_benchmark(args) if args.scratch else embedder_benchmark(args)
    if args.note:
        result["note"] = args.note
    save(result, args.json)


if __name__ == "__main__":
    main()
