"""CLI of the evaluation subpackage: ``citegraph eval retrieval``.

Only typer is imported at module level: ``citegraph --help`` must not pay for torch or Chroma.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _parse_overrides(pairs: list[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise typer.BadParameter(f"expected NAME=VALUE, got {pair!r}", param_hint="--set")
        out[key.strip()] = value.strip()
    return out


def eval_retrieval(
    dataset: Annotated[
        Path, typer.Option("--dataset", help="BEIR folder: corpus.jsonl, queries.jsonl, qrels/.")
    ],
    json_out: Annotated[Path | None, typer.Option("--json", help="Write the results JSON here.")] = None,
    split: Annotated[
        str, typer.Option(help="qrels/<split>.tsv to score (tune on train, report test).")
    ] = "test",
    systems: Annotated[
        list[str] | None,
        typer.Option(
            "--system",
            help="Run only these systems (repeat); default: all but bow_binary, bow_count, tfidf, word2vec "
            "and word2vec_idf (representation baselines), which run only when named.",
        ),
    ] = None,
    limit: Annotated[int | None, typer.Option(help="Score only the first N queries (smoke runs).")] = None,
    cache_dir: Annotated[
        Path | None, typer.Option(help="Where cached stores live (default ~/.cache/citegraph/eval).")
    ] = None,
    overrides: Annotated[
        list[str] | None,
        typer.Option("--set", help="Pipeline setting NAME=VALUE (repeat), e.g. mmr_lambda=0.8."),
    ] = None,
) -> None:
    """nDCG@10, Recall@10/100, MRR@10 and latency of CiteGraph's retriever, its ablations, BM25, dense and
    LangChain's EnsembleRetriever on a BEIR-format dataset (ingested once into a cached store)."""
    from pydantic import ValidationError

    from citegraph.eval.retrieval import EvalConfig, evaluate

    config = EvalConfig(
        dataset=dataset,
        split=split,
        cache_dir=cache_dir,
        limit=limit,
        systems=tuple(systems or ()),
        settings=_parse_overrides(overrides or []),
    )
    try:
        result = evaluate(config, log=_log)
    except FileNotFoundError as error:
        print(f"error: {error}", file=sys.stderr)
        raise typer.Exit(2) from None
    except ValidationError as error:
        print(f"error: invalid setting: {error}", file=sys.stderr)
        raise typer.Exit(2) from None
    text = json.dumps(result, indent=2)
    if json_out:
        json_out.parent.mkdir(parents=True, exist_ok=True)
        json_out.write_text(text + "\n")
    header = (
        f"{'system':28} {'nDCG@10':>8} {'R@10':>7} {'R@100':>7} {'MRR@10':>7} {'p50 ms':>8} {'p95 ms':>8}"
    )
    print(header)
    for name, m in result["systems"].items():
        print(
            f"{name:28} {m['ndcg@10']:8.4f} {m['recall@10']:7.4f} {m['recall@100']:7.4f} "
            f"{m['mrr@10']:7.4f} {m['p50_ms']:8.1f} {m['p95_ms']:8.1f}"
        )


def eval_qa(
    dataset: Annotated[Path, typer.Option("--dataset", help="SQuAD-format JSON (v1.1 or v2.0).")],
    json_out: Annotated[Path | None, typer.Option("--json", help="Write the results JSON here.")] = None,
    strategy: Annotated[str, typer.Option(help="extract (no LLM) or generate.")] = "extract",
    model: Annotated[str, typer.Option("--model", help="Model spec for generate.")] = "gguf:smollm2",
    limit: Annotated[int | None, typer.Option(help="Ask only the first N questions.")] = None,
    k: Annotated[int, typer.Option("-k", help="Most passages per answer.", min=1, max=20)] = 5,
    abstention: Annotated[
        bool, typer.Option(help="Also ask each question with its gold paragraph removed.")
    ] = True,
    cache_dir: Annotated[
        Path | None, typer.Option(help="Where cached stores live (default ~/.cache/citegraph/eval).")
    ] = None,
) -> None:
    """Hit rate, answer recall, F1, citation precision, verified share, abstention and latency of the rag
    graph on a SQuAD-format file (its paragraphs are the corpus)."""
    from citegraph.errors import ModelNotFoundError
    from citegraph.eval.qa import QAConfig, evaluate_qa

    if strategy not in ("extract", "generate"):
        print(f"error: --strategy is extract or generate, not {strategy!r}", file=sys.stderr)
        raise typer.Exit(2)
    config = QAConfig(dataset, strategy, model, limit, k, cache_dir, abstention)
    try:
        result = evaluate_qa(config, log=_log)
    except (FileNotFoundError, ModelNotFoundError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        raise typer.Exit(2) from None
    text = json.dumps(result, indent=2)
    if json_out:
        json_out.parent.mkdir(parents=True, exist_ok=True)
        json_out.write_text(text + "\n")
    print(text)


def register(app: typer.Typer, train_app: typer.Typer, eval_app: typer.Typer) -> None:
    """Add this subpackage's commands to the ``citegraph`` command groups."""
    eval_app.command("retrieval")(eval_retrieval)
    eval_app.command("qa")(eval_qa)
