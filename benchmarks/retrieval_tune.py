"""Choose the pipeline's settings on a BEIR *train* split (never on test): score candidate settings side
by side and save them to benchmarks/results/scifact_tune_train.json.

    .venv/bin/python benchmarks/retrieval_tune.py --dataset ../shared/data/scifact --split train \
        --grid '{"mmr_lambda": [0.7, 0.9, 1.0]}' --grid '{"prf_beta": [0.3, 1.0]}'

Each --grid varies one or more settings (all combinations) around the defaults (plus --set overrides).
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # for benchmarks.common

from benchmarks.common import save
from citegraph.eval.beir import load_beir
from citegraph.eval.metrics import dedupe, summarize
from citegraph.eval.retrieval import chunk_to_doc, open_eval_store
from citegraph.retrieval.pipeline import RetrievalPipeline, with_settings
from citegraph.settings import Settings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", type=Path, required=True)
    parser.add_argument("--split", default="train")
    parser.add_argument("--every", type=int, default=1, help="Use every n-th query (faster rounds).")
    parser.add_argument("--offset", type=int, default=0, help="Start at this query (another --every half).")
    parser.add_argument("--grid", action="append", default=[], help="JSON {setting: [values]}.")
    parser.add_argument("--set", action="append", default=[], help="JSON {setting: value} base overrides.")
    parser.add_argument("--json", type=Path, default=Path("benchmarks/results/scifact_tune_train.json"))
    args = parser.parse_args()
    if args.split == "test":
        parser.error("tune on train; test is for reporting only")
    store, settings = open_eval_store(args.dataset, Settings(), None, print)
    data = load_beir(args.dataset, args.split)
    qids = sorted(data.queries)[args.offset :: args.every]
    qrels = {q: data.qrels[q] for q in qids}
    to_doc = chunk_to_doc(store)
    base_overrides: dict[str, Any] = {}
    for item in args.set:
        base_overrides.update(json.loads(item))
    base = RetrievalPipeline(store, settings.model_copy(update=base_overrides))
    configs: list[dict[str, Any]] = [{}]
    for grid in map(json.loads, args.grid):
        keys = list(grid)
        configs += [dict(zip(keys, values, strict=True)) for values in itertools.product(*grid.values())]
    for qid in qids[:5]:
        base.run(data.queries[qid])
    previous = json.loads(args.json.read_text()) if args.json.exists() else {"runs": []}
    for config in configs:
        pipeline = with_settings(base, **config)
        rankings, latencies = {}, []
        for qid in qids:
            started = time.perf_counter()
            ids = pipeline.run(data.queries[qid]).ranked_ids()
            latencies.append((time.perf_counter() - started) * 1000)
            rankings[qid] = dedupe(to_doc[c] for c in ids)
        metrics = summarize(rankings, qrels, latencies)
        label = json.dumps({**base_overrides, **config}, sort_keys=True)
        print(f"{label:70} nDCG@10 {metrics['ndcg@10']:.4f} R@100 {metrics['recall@100']:.4f} "
              f"MRR {metrics['mrr@10']:.4f} p50 {metrics['p50_ms']:.0f}ms", flush=True)  # fmt: skip
        previous["runs"].append(
            {"split": args.split, "queries": len(qids), "offset": args.offset, "settings": label, **metrics}
        )
    save(previous, args.json, echo=False)  # every run so far, printed line by line above


if __name__ == "__main__":
    main()
