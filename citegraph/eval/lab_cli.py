"""CLI of the lab: ``citegraph lab map`` (a map of a store), ``citegraph lab attention`` (heatmaps) and
``citegraph lab train-seq2seq`` (the encoder-decoder whose cross-attention ``lab attention --seq2seq`` draws).

Only typer and rich are imported at module level: ``citegraph --help`` must not pay for torch or sklearn.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

lab_app = typer.Typer(help="Look inside the corpus and the models.", no_args_is_help=True)
out = Console()
err = Console(stderr=True)

_MAP_STAGES = ("reading", "k search", "PCA", "t-SNE", "naming", "writing")


def _fail(message: str) -> typer.Exit:
    """Print an error and return the exit to raise (code 2: bad input)."""
    err.print(f"[red]error:[/red] {escape(message)}")
    return typer.Exit(2)


def _limit_threads() -> None:
    """One BLAS/torch thread unless the user set OMP_NUM_THREADS: the lab shares machines with servers."""
    import os

    if "OMP_NUM_THREADS" not in os.environ:
        import torch
        from threadpoolctl import threadpool_limits

        threadpool_limits(1)
        torch.set_num_threads(1)


def lab_map(
    store: Annotated[Path, typer.Option("--store", help="Store directory to map (read only).")],
    out_prefix: Annotated[
        Path, typer.Option("--out", help="Write OUT.png, OUT.html and OUT.json (e.g. results/map_demo).")
    ],
    title: Annotated[str | None, typer.Option(help="Title of the figures (default: the store path).")] = None,
    k_min: Annotated[int, typer.Option(help="Smallest k tried.", min=2)] = 2,
    k_max: Annotated[int, typer.Option(help="Largest k tried.", min=2)] = 12,
    max_tsne: Annotated[
        int, typer.Option(help="t-SNE on a random sample of at most this many.", min=10)
    ] = 3000,
    outliers: Annotated[int, typer.Option(help="Outliers to list.", min=0)] = 10,
    seed: Annotated[int, typer.Option(help="Seed of KMeans, t-SNE and the samples.")] = 0,
    k: Annotated[
        int | None, typer.Option("--k", help="Use this many clusters instead of the best silhouette.", min=2)
    ] = None,
) -> None:
    """Project a store's chunk vectors (PCA, t-SNE), cluster them (KMeans, k by silhouette), name each cluster
    by its most distinctive terms and list outliers: a PNG, an interactive HTML page and a JSON summary."""
    from citegraph.ingest.pipeline import stored_sources

    if k_max < k_min:
        raise _fail(f"--k-max ({k_max}) is below --k-min ({k_min})")
    if not stored_sources(store):
        raise _fail(
            f"no store with documents at {store}; build one with: citegraph ingest --store {store} ..."
        )
    _limit_threads()
    from citegraph.eval.corpus_map import build_map, load_store_chunks, save_html, save_json, save_png
    from citegraph.retrieval.store import HybridStore, StoreError
    from citegraph.settings import Settings

    label = title or str(store)
    started = time.perf_counter()
    with Progress(
        TextColumn("{task.description:>10}"), BarColumn(), TimeElapsedColumn(), console=err, transient=True
    ) as bar:
        task = bar.add_task(_MAP_STAGES[0], total=len(_MAP_STAGES))

        def stage(name: str) -> None:
            bar.update(task, description=name, completed=_MAP_STAGES.index(name))

        try:
            hybrid = HybridStore(Settings(store_dir=store))
            chunks, vectors = load_store_chunks(hybrid)
        except (StoreError, OSError, KeyError) as error:
            raise _fail(f"cannot read the store at {store}: {error}") from None
        read_s = time.perf_counter() - started
        try:
            corpus_map = build_map(
                chunks,
                vectors,
                (k_min, k_max),
                max_tsne=max_tsne,
                outliers=outliers,
                seed=seed,
                progress=stage,
                k=k,
            )
        except ValueError as error:
            raise _fail(str(error)) from None
        corpus_map.timings = {"read": read_s, **corpus_map.timings}
        stage("writing")
        started_writing = time.perf_counter()
        save_png(corpus_map, out_prefix.with_suffix(".png"), label)
        save_html(corpus_map, out_prefix.with_suffix(".html"), label)
        corpus_map.timings["write"] = time.perf_counter() - started_writing
        corpus_map.timings["total"] = time.perf_counter() - started
        summary = save_json(corpus_map, out_prefix.with_suffix(".json"), str(store))

    table = Table(title=f"{escape(label)}: k={corpus_map.k}, silhouette {corpus_map.silhouette:.3f}")
    for column in ("cluster", "size", "top terms", "example source"):
        table.add_column(column)
    for cluster in corpus_map.clusters:
        table.add_row(
            str(cluster.cluster),
            str(cluster.size),
            escape(", ".join(cluster.terms)),
            escape(cluster.example_source),
        )
    out.print(table)
    far = Table(title="outliers (farthest from their cluster's centroid)")
    for column in ("source", "cluster", "cosine distance", "text"):
        far.add_column(column)
    for row in summary["outliers"]:
        far.add_row(
            escape(row["source"]), str(row["cluster"]), f"{row['distance']:.3f}", escape(row["text"][:90])
        )
    out.print(far)
    for note in corpus_map.notes:
        out.print(f"note: {escape(note)}")
    out.print(
        f"wrote {out_prefix}.png, .html, .json in {corpus_map.timings['total']:.1f}s "
        f"({json.dumps(summary['timings_s'])})"
    )


def lab_attention(
    text: Annotated[str, typer.Argument(help="The text to run through the model.")],
    out_png: Annotated[Path, typer.Option("--out", help="PNG to write.")],
    scratch: Annotated[
        Path | None,
        typer.Option(help="A scratch run directory (citegraph train scratch --out); default: MiniLM."),
    ] = None,
    embedding_model: Annotated[
        Path | None, typer.Option(help="A sentence-transformers folder instead of the bundled MiniLM.")
    ] = None,
    seq2seq: Annotated[
        Path | None,
        typer.Option(
            help="An encoder-decoder directory (citegraph lab train-seq2seq --out): the decoder's "
            "cross-attention over TEXT as the source."
        ),
    ] = None,
    max_tokens: Annotated[int, typer.Option(help="Cut the text to this many tokens.", min=2, max=512)] = 48,
) -> None:
    """Attention heatmaps on TEXT, every layer x head and the average: self-attention of MiniLM or a scratch
    GPT, or the cross-attention of the encoder-decoder (--seq2seq)."""
    from citegraph.errors import ModelNotFoundError

    if sum(option is not None for option in (scratch, embedding_model, seq2seq)) > 1:
        raise _fail("give one of --scratch, --embedding-model, --seq2seq")
    _limit_threads()
    from citegraph.eval.attention import (
        minilm_attention,
        mirrored_share,
        save_attention_png,
        scratch_attention_from_run,
        seq2seq_attention_from_dir,
    )

    try:
        if seq2seq is not None:
            maps = seq2seq_attention_from_dir(seq2seq, text)
        elif scratch is not None:
            maps = scratch_attention_from_run(scratch, text, max_tokens)
        else:
            maps = minilm_attention(text, embedding_model, max_tokens)
    except (ModelNotFoundError, FileNotFoundError, ValueError) as error:
        raise _fail(str(error)) from None
    shown = " ".join(text.split())
    save_attention_png(maps, out_png, shown if len(shown) <= 60 else shown[:59] + "…")
    if seq2seq is not None:
        correct = "exact" if maps.output == text[::-1] else "not the exact reversal"
        out.print(
            f"{escape(maps.model)}: {maps.layers} layers x {maps.heads} heads of cross-attention; "
            f"{escape(repr(text))} -> {escape(repr(maps.output))} ({correct}); "
            f"{mirrored_share(maps):.0%} of the output steps read most from the mirrored source character"
        )
        out.print(f"wrote {out_png}")
        return
    mean = maps.mean()
    # The key each query reads most on average: a one-line reading of the picture.
    favourite = [maps.tokens[int(j)] for j in mean.argmax(axis=1)]
    top = max(set(favourite), key=favourite.count)
    out.print(
        f"{escape(maps.model)}: {maps.layers} layers x {maps.heads} heads over {len(maps.tokens)} tokens; "
        f"the most-attended key of {favourite.count(top)}/{len(favourite)} queries is {escape(repr(top))}"
    )
    out.print(f"wrote {out_png}")


def lab_train_seq2seq(
    data: Annotated[Path, typer.Option("--data", help="Text file: its lines become reverse_line pairs.")],
    out_dir: Annotated[Path, typer.Option("--out", help="Directory to write seq2seq.pt into.")],
    steps: Annotated[int, typer.Option(help="Optimizer steps.", min=1)] = 1500,
    batch_size: Annotated[int, typer.Option(help="Line pairs per step.", min=1)] = 32,
    lr: float = 2e-3,
    n_layer: Annotated[int, typer.Option(help="Layers on each side (encoder and decoder).", min=1)] = 2,
    n_head: Annotated[int, typer.Option(min=1)] = 4,
    n_embd: Annotated[int, typer.Option(min=2)] = 64,
    max_len: Annotated[int, typer.Option(help="Longest line used, in characters.", min=1)] = 32,
    seed: int = 1337,
) -> None:
    """Train the encoder-decoder on reverse_line (target: the line reversed) for `lab attention --seq2seq`.

    The recipe of benchmarks/architectures.py; its 1,500 steps take about a minute on one CPU thread and
    reach ~98% exact match on tiny shakespeare's held-out lines.
    """
    from citegraph.models.scratch.data import DataError, read_texts

    _limit_threads()
    from citegraph.models.scratch.seq2seq import TransformerConfig, save_encoder_decoder, train_reverse_line

    try:
        (text,) = read_texts([data])
        config = TransformerConfig(n_layer=n_layer, n_head=n_head, n_embd=n_embd)
    except (DataError, ValueError) as error:
        raise _fail(str(error)) from None
    with Progress(
        TextColumn("train"), BarColumn(), TextColumn("{task.fields[info]}"), console=err, transient=True
    ) as bar:
        task = bar.add_task("train", total=steps, info="")

        def progress(step: int, loss: float) -> None:
            bar.update(task, completed=step, info=f"loss {loss:.3f}")

        try:
            model, stoi, info = train_reverse_line(
                text, config, steps, batch_size, lr, max_len, seed, progress=progress
            )
        except ValueError as error:
            raise _fail(str(error)) from None
    path = save_encoder_decoder(model, stoi, out_dir, info)
    out.print(
        f"{info['train_lines']} train / {info['val_lines']} val lines; val loss {info['val_loss']:.3f}, "
        f"exact match {info['exact_match']:.0%} of {info['exact_match_lines']} val lines; wrote {path}"
    )


def register(app: typer.Typer, train_app: typer.Typer, eval_app: typer.Typer) -> None:
    """Add the ``lab`` command group to the ``citegraph`` command."""
    lab_app.command("map")(lab_map)
    lab_app.command("attention")(lab_attention)
    lab_app.command("train-seq2seq")(lab_train_seq2seq)
    app.add_typer(lab_app, name="lab")
