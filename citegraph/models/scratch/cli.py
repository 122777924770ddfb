"""The scratch model's commands: ``citegraph train scratch``, ``citegraph generate``, ``citegraph eval lm``.

Only typer is imported at module level: ``citegraph --help`` must not pay for importing torch.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Annotated

import typer


def _fail(message: str) -> typer.Exit:
    print(f"error: {message}", file=sys.stderr)
    return typer.Exit(2)


def _model_dir(spec: str) -> str:
    """``scratch:DIR`` or a bare DIR."""
    return spec.removeprefix("scratch:")


def train_scratch(
    data: Annotated[list[Path], typer.Option("--data", help="Training text file (repeat for several).")],
    out: Annotated[
        Path, typer.Option("--out", help="Run directory: tokenizer, data, checkpoints, log, plot.")
    ],
    tokenizer: Annotated[str, typer.Option(help="bpe (byte-level BPE) or char.")] = "bpe",
    vocab_size: Annotated[int, typer.Option(help="BPE vocabulary size.")] = 4096,
    val_fraction: Annotated[float, typer.Option(help="Tail of each file held out for validation.")] = 0.1,
    n_layer: int = 4,
    n_head: int = 4,
    n_kv_head: Annotated[int | None, typer.Option(help="Key/value heads (grouped-query attention).")] = None,
    n_embd: int = 128,
    block_size: Annotated[int, typer.Option(help="Context length in tokens.")] = 128,
    dropout: float = 0.0,
    pos: Annotated[str, typer.Option(help="rope, learned or sinusoidal positions.")] = "rope",
    norm: Annotated[str, typer.Option(help="rmsnorm or layernorm.")] = "rmsnorm",
    mlp: Annotated[str, typer.Option(help="swiglu or gelu.")] = "swiglu",
    batch_size: Annotated[int, typer.Option(help="Sequences per micro-step and process.")] = 12,
    grad_accum: Annotated[int, typer.Option(help="Micro-steps per optimizer step.")] = 1,
    max_iters: int = 2000,
    lr: float = 1e-3,
    min_lr: float = 1e-4,
    warmup_iters: int = 100,
    weight_decay: float = 0.1,
    grad_clip: Annotated[float, typer.Option(help="Clip the gradient norm at this value; 0: off.")] = 1.0,
    label_smoothing: float = 0.0,
    eval_interval: int = 250,
    eval_iters: int = 20,
    patience: Annotated[
        int, typer.Option(help="Early stop after this many evals without improvement; 0: off.")
    ] = 0,
    device: Annotated[str, typer.Option(help="auto, cpu, cuda, cuda:N, mps.")] = "auto",
    dtype: Annotated[str, typer.Option(help="auto, float32, bfloat16 or float16 (autocast).")] = "auto",
    threads: Annotated[
        int | None, typer.Option(help="torch CPU threads (default: torch's choice, or OMP_NUM_THREADS).")
    ] = None,
    seed: int = 1337,
    resume: Annotated[
        bool, typer.Option("--resume", help="Continue the run in --out exactly where it stopped.")
    ] = False,
    quiet: Annotated[bool, typer.Option("--quiet", help="No progress output.")] = False,
) -> None:
    """Train the from-scratch transformer on your text files (CPU, GPU, or DDP under torchrun)."""
    from citegraph.models.scratch.data import DataError
    from citegraph.models.scratch.train import TrainConfig, train

    cfg = TrainConfig(
        data=[str(d) for d in data],
        out_dir=str(out),
        tokenizer=tokenizer,
        vocab_size=vocab_size,
        val_fraction=val_fraction,
        n_layer=n_layer,
        n_head=n_head,
        n_kv_head=n_kv_head,
        n_embd=n_embd,
        block_size=block_size,
        dropout=dropout,
        pos=pos,
        norm=norm,
        mlp=mlp,
        batch_size=batch_size,
        grad_accum=grad_accum,
        max_iters=max_iters,
        lr=lr,
        min_lr=min_lr,
        warmup_iters=warmup_iters,
        weight_decay=weight_decay,
        grad_clip=grad_clip,
        label_smoothing=label_smoothing,
        eval_interval=eval_interval,
        eval_iters=eval_iters,
        patience=patience,
        device=device,
        dtype=dtype,
        threads=threads,
        seed=seed,
        resume=resume,
        verbose=not quiet,
    )
    try:
        result = train(cfg)
    except (DataError, FileNotFoundError, ValueError) as error:
        raise _fail(str(error)) from None
    if not quiet:
        print(
            f"{result['iters']} iterations, val loss {result['val_loss']:.4f} "
            f"(best {result['best_val_loss']:.4f}), "
            f"{result['tokens_per_s'] or 0:,.0f} tokens/s; model in {out}",
            file=sys.stderr,
        )
    if result["world_size"] > 1:
        # A torchrun worker leaves here without interpreter teardown. Its process group is already destroyed
        # and the run saved, but libtorch's exit-time destructors have aborted a gloo worker ("terminate
        # called without an active exception", SIGABRT) on a loaded CI machine, failing a finished run.
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0)


def generate(
    model: Annotated[
        str, typer.Option("--model", help="scratch:DIR (a directory written by train scratch).")
    ],
    prompt: Annotated[str, typer.Option("--prompt", help="Text to continue.")],
    max_new_tokens: int = 200,
    temperature: Annotated[float, typer.Option(help="0 is greedy.")] = 0.8,
    top_k: int | None = None,
    top_p: float | None = None,
    repetition_penalty: float = 1.0,
    stop: Annotated[
        list[str] | None, typer.Option("--stop", help="Stop sequence (repeat for several).")
    ] = None,
    seed: int | None = None,
    no_cache: Annotated[
        bool, typer.Option("--no-cache", help="Recompute the whole context every token.")
    ] = False,
    device: str = "cpu",
) -> None:
    """Continue a prompt with a scratch model, streaming the text to stdout."""
    from citegraph.errors import ModelNotFoundError
    from citegraph.models.scratch.generate import SamplingConfig, load_model, stream_text

    try:
        lm, tok = load_model(_model_dir(model), device=device)
        sc = SamplingConfig(
            max_new_tokens=max_new_tokens,
            temperature=temperature,
            top_k=top_k,
            top_p=top_p,
            repetition_penalty=repetition_penalty,
            stop=stop or [],
            seed=seed,
            use_cache=not no_cache,
        )
        sys.stdout.write(prompt)
        for piece in stream_text(lm, tok, prompt, sc):
            sys.stdout.write(piece)
            sys.stdout.flush()
        sys.stdout.write("\n")
    except (ModelNotFoundError, ValueError) as error:
        raise _fail(str(error)) from None


def eval_lm(
    model: Annotated[str, typer.Option("--model", help="scratch:DIR")],
    data: Annotated[list[Path], typer.Option("--data", help="Held-out text file (repeat for several).")],
    stride: Annotated[
        int | None, typer.Option(help="Sliding-window stride in tokens (default: block size).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")] = False,
) -> None:
    """Perplexity of a scratch model on held-out text (loss in nats/token, bits per byte)."""
    from citegraph.errors import ModelNotFoundError
    from citegraph.models.scratch.data import DataError, read_texts
    from citegraph.models.scratch.evaluate import score_text
    from citegraph.models.scratch.generate import load_model

    try:
        lm, tok = load_model(_model_dir(model))
        score = score_text(lm, tok, read_texts(data), stride)
    except (ModelNotFoundError, DataError, ValueError) as error:
        raise _fail(str(error)) from None
    if as_json:
        print(json.dumps(score.to_dict(), indent=2))
    else:
        print(
            f"tokens {score.tokens:,}  loss {score.loss:.4f}  perplexity {score.perplexity:.2f}  "
            f"bits/byte {score.bits_per_byte:.3f}"
        )


def register(app: typer.Typer, train_app: typer.Typer, eval_app: typer.Typer) -> None:
    """Add this subpackage's commands to the ``citegraph`` command groups."""
    train_app.command("scratch")(train_scratch)
    app.command("generate")(generate)
    eval_app.command("lm")(eval_lm)
