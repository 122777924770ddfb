"""Which parts of the BM25 tokenizer earn their keep: stemming and stop words, on/off, BM25 alone.

Scores BM25 (bm25s, same chunks as the store) with each tokenizer on a BEIR split (default: SciFact
train, the split settings are chosen on) and saves benchmarks/results/scifact_tokenizer.json.

    .venv/bin/python benchmarks/retrieval_tokenizer.py --dataset ../shared/data/scifact --split train
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import bm25s
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # for benchmarks.common

from benchmarks.common import save
from citegraph.eval.beir import load_beir
from citegraph.eval.metrics import dedupe, summarize
from citegraph.eval.retrieval import chunk_to_doc, open_eval_store
from citegraph.retrieval.tokenizer import make_tokenizer
from citegraph.settings import Settings

TOKENIZERS = {
    "whitespace (LangChain BM25Retriever default)": lambda text: text.split(),
    "lowercase words": make_tokenizer(stem=False, stopwords=False),
    "+ stop words": make_tokenizer(stem=False, stopwords=True),
    "+ stemming": make_tokenizer(stem=True, stopwords=False),
    "+ stop words + stemming (default)": make_tokenizer(stem=True, stopwords=True),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", type=Path, required=True)
    parser.add_argument("--split", default="train")
    parser.add_argument("--json", type=Path, default=Path("benchmarks/results/scifact_tokenizer.json"))
    args = parser.parse_args()
    store, _ = open_eval_store(args.dataset, Settings(), None, print)
    data = load_beir(args.dataset, args.split)
    to_doc = chunk_to_doc(store)
    chunks = store.manifest.chunks()
    ids = [c.chunk_id for c in chunks]
    results = {}
    for name, tokenize in TOKENIZERS.items():
        model = bm25s.BM25()
        model.index([tokenize(c.text) or [""] for c in chunks], show_progress=False)
        rankings, latencies = {}, []
        for qid, query in data.queries.items():
            started = time.perf_counter()
            terms = [t for t in tokenize(query) if t in model.vocab_dict]
            scores = model.get_scores(terms) if terms else np.zeros(len(ids))
            top = np.argsort(-scores, kind="stable")[:300]
            rankings[qid] = dedupe(to_doc[ids[i]] for i in top if scores[i] > 0)
            latencies.append((time.perf_counter() - started) * 1000)
        results[name] = summarize(rankings, data.qrels, latencies)
        print(f"{name:48} nDCG@10 {results[name]['ndcg@10']:.4f}  R@100 {results[name]['recall@100']:.4f}")
    out = {"dataset": data.name, "split": args.split, "queries": len(data.queries), "bm25": results}
    save(out, args.json, echo=False)  # the per-tokenizer lines above are the printed summary


if __name__ == "__main__":
    main()
