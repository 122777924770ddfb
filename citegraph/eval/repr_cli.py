"""CLI of the representation and decoding labs: ``citegraph lab polysemy`` and ``citegraph lab decoding``.

They join the ``lab`` group when it is registered before them, else ``eval``. Only typer and rich are
imported at module level: ``citegraph --help`` must not pay for torch, gensim or scikit-learn.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

DEMO_CORPUS = Path(__file__).resolve().parent.parent / "demo_corpus"
out = Console()
err = Console(stderr=True)


def _fail(message: str) -> typer.Exit:
    """Print an error and return the exit to raise (code 2: bad input)."""
    err.print(f"[red]error:[/red] {escape(message)}")
    return typer.Exit(2)


def _one_thread() -> None:
    """One torch/BLAS thread unless the user set OMP_NUM_THREADS: these labs run on shared machines."""
    import os

    if "OMP_NUM_THREADS" not in os.environ:
        import torch
        from threadpoolctl import threadpool_limits

        threadpool_limits(1)
        torch.set_num_threads(1)


def _write(result: dict[str, Any], path: Path | None) -> None:
    """Save the result JSON when asked."""
    if path:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
        err.print(f"wrote {path}")


def _pairs(items: list[Any]) -> str:
    """``word (0.42), ...`` for a neighbour list; a dash when the word is not in the vocabulary."""
    return ", ".join(f"{w} ({s:.2f})" for w, s in items) if items else "[dim]not in vocabulary[/dim]"


def lab_polysemy(
    json_out: Annotated[Path | None, typer.Option("--json", help="Write the results JSON here.")] = None,
    scifact: Annotated[
        Path | None,
        typer.Option(
            help="A BEIR folder (e.g. SciFact) whose corpus joins the demo corpus for static vectors."
        ),
    ] = None,
    max_docs: Annotated[int | None, typer.Option(help="Use only the first N documents of --scifact.")] = None,
    neighbours: Annotated[int, typer.Option(help="Neighbours shown per word and sense.", min=1)] = 6,
    epochs: Annotated[int, typer.Option(help="word2vec epochs.", min=1)] = 10,
    seed: Annotated[int, typer.Option(help="word2vec seed.")] = 0,
) -> None:
    """Nearest neighbours of polysemous words (bank, bat, Java, spring, mouse, cell) in bag of words, TF-IDF,
    word2vec and contextual MiniLM vectors, and how far each representation separates the senses."""
    from citegraph.eval.polysemy import PolysemyConfig, probe
    from citegraph.eval.representations import Word2VecConfig

    _one_thread()
    if scifact is not None and not (scifact / "corpus.jsonl").is_file():
        raise _fail(f"{scifact} has no corpus.jsonl")
    config = PolysemyConfig(
        DEMO_CORPUS,
        scifact,
        max_docs,
        neighbours,
        Word2VecConfig(epochs=epochs, min_count=3, seed=seed),
    )
    result = probe(config, log=lambda m: err.print(escape(m)))
    _write(result, json_out)
    for word, entry in result["words"].items():
        table = Table(title=f"[bold]{word}[/bold]", show_lines=True, expand=True)
        table.add_column("representation", no_wrap=True)
        table.add_column("nearest neighbours (cosine)")
        for kind, items in entry["static_neighbours"].items():
            table.add_row(f"{kind} (one vector)", _pairs(items))
        for sense, items in entry["contextual_neighbours"].items():
            table.add_row(f"minilm in '{sense}' sentences", _pairs(items))
        out.print(table)
    gaps = Table(
        title="Sense separation: cosine gap within - across senses (0 = merged) / leave-one-out sense "
        "accuracy (0.5 = chance)"
    )
    gaps.add_column("word")
    kinds = list(next(iter(result["words"].values()))["separation"])
    for kind in kinds:
        gaps.add_column(kind, justify="right")
    for word, entry in result["words"].items():
        cells = [entry["separation"][k] for k in kinds]
        gaps.add_row(
            word,
            *("[dim]oov[/dim]" if c is None else f"{c['gap']:+.2f} {c['accuracy']:.2f}" for c in cells),
        )
    out.print(gaps)


def lab_decoding(
    model: Annotated[
        Path, typer.Option("--model", help="Scratch run directory (scratch:DIR also accepted).")
    ],
    text: Annotated[
        Path, typer.Option("--text", help="The model's training text: prompts come from its held-out tail.")
    ],
    json_out: Annotated[Path | None, typer.Option("--json", help="Write the results JSON here.")] = None,
    reference: Annotated[
        Path | None, typer.Option(help="A second scratch run that scores every sample too (ref_ppl).")
    ] = None,
    strategies: Annotated[
        list[str] | None, typer.Option("--strategy", help="Only these strategies (repeat); default: all.")
    ] = None,
    prompts: Annotated[int, typer.Option(help="Prompts (speaker turns of the held-out text).", min=1)] = 8,
    samples: Annotated[int, typer.Option(help="Samples per prompt and strategy.", min=1)] = 3,
    max_new_tokens: Annotated[int, typer.Option(help="Tokens per sample.", min=8)] = 300,
    val_fraction: Annotated[float, typer.Option(help="Held-out tail of --text (as in training).")] = 0.1,
    seed: int = 0,
) -> None:
    """Greedy, temperature, top-k, top-p and repetition penalty on one scratch model: distinct-1/2,
    repetition, the model's own perplexity of its samples (and a reference model's), samples side by side."""
    from citegraph.errors import ModelNotFoundError
    from citegraph.eval.decoding import STRATEGIES, DecodingConfig, compare_decoding, prompts_from_text
    from citegraph.models.scratch.generate import load_model

    _one_thread()
    unknown = [s for s in strategies or [] if s not in STRATEGIES]
    if unknown:
        raise _fail(f"unknown strategies {unknown}; choose from {list(STRATEGIES)}")
    try:
        lm, tokenizer = load_model(str(model).removeprefix("scratch:"))
        ref = load_model(str(reference).removeprefix("scratch:"))[0] if reference else None
        body = text.read_text(encoding="utf-8")
        pairs = prompts_from_text(body[int(len(body) * (1 - val_fraction)) :], prompts, max_new_tokens)
    except (ModelNotFoundError, OSError, ValueError) as error:
        raise _fail(str(error)) from None
    chosen = {s: STRATEGIES[s] for s in strategies} if strategies else STRATEGIES
    result = compare_decoding(
        lm, tokenizer, pairs, DecodingConfig(chosen, max_new_tokens, samples, seed), ref
    )
    result["model"] = str(model)
    result["reference"] = str(reference) if reference else None
    _write(result, json_out)
    print_decoding(result)


def print_decoding(result: dict[str, Any]) -> None:
    """The metrics table, then the first prompt's samples side by side."""
    rows = result["strategies"]
    has_ref = any("ref_ppl" in r["metrics"] for r in rows.values())
    table = Table(title="Decoding strategies (human = the real continuation)")
    for column in ("strategy", "distinct-1", "distinct-2", "rep-3", "unique", "self ppl"):
        if column == "strategy":
            table.add_column(column, no_wrap=True)
        else:
            table.add_column(column, justify="right")
    if has_ref:
        table.add_column("ref ppl", justify="right")
    for name, row in rows.items():
        m = row["metrics"]
        cells = [name, f"{m['distinct_1']:.3f}", f"{m['distinct_2']:.3f}", f"{m['repetition']:.3f}"]
        cells += [f"{m['unique_samples']:.2f}", f"{m['self_ppl']:.2f}"]
        if has_ref:
            cells.append(f"{m['ref_ppl']:.2f}")
        table.add_row(*cells)
    out.print(table)
    samples = Table(title=f"Samples for prompt {result['prompts'][0]!r}", show_lines=True, expand=True)
    samples.add_column("strategy", no_wrap=True)
    samples.add_column("text")
    for name, row in rows.items():
        samples.add_row(name, escape(row["samples"][0][:240]))
    out.print(samples)


def _lab_group(app: typer.Typer) -> typer.Typer | None:
    """The ``lab`` sub-app when one is registered on ``app`` already."""
    for group in app.registered_groups:
        if group.name == "lab" and group.typer_instance is not None:
            return group.typer_instance
    return None


def register(app: typer.Typer, train_app: typer.Typer, eval_app: typer.Typer) -> None:
    """Add ``polysemy`` and ``decoding`` to the ``lab`` group (to ``eval`` when there is none)."""
    group = _lab_group(app) or eval_app
    group.command("polysemy")(lab_polysemy)
    group.command("decoding")(lab_decoding)
