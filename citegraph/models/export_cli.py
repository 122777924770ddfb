"""``citegraph export embedder|scratch|gguf-lora``: write a model as ONNX or TorchScript and check it against
torch, or a PEFT LoRA adapter as a llama.cpp LoRA GGUF.

Only typer and rich are imported at module level: ``citegraph --help`` must not pay for importing torch.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

CHECK_TEXTS = [
    "What does the store record about its embedder?",
    "ภาษาไทยเป็นภาษาราชการของประเทศไทย",
    "Sherlock Holmes took his bottle from the corner of the mantel-piece. " * 12,
]
CHECK_TOKENS = 24  # greedy tokens compared for the scratch model
out = Console()
err = Console(stderr=True)


class Format(StrEnum):
    """The file formats ``citegraph export`` writes."""

    onnx = "onnx"
    torchscript = "torchscript"


def _fail(message: str) -> typer.Exit:
    """Print an error and return the exit to raise (usage errors exit 2)."""
    err.print(f"[red]error:[/red] {message}")
    return typer.Exit(2)


def _write_onnx(export_to: Callable[[Path], Path], out_path: Path, int8: bool) -> None:
    """Export with ``export_to`` to ``out_path``; with ``int8``, export fp32 beside it, quantize, and
    remove the fp32 file."""
    from citegraph.models import export

    if not int8:
        export_to(out_path)
        return
    fp32 = out_path.with_name(out_path.stem + ".fp32.onnx")
    try:
        export.quantize_int8(export_to(fp32), out_path)
    finally:
        fp32.unlink(missing_ok=True)


FormatOption = Annotated[Format, typer.Option("--format", help="onnx (run by ONNX Runtime) or torchscript.")]
Int8Option = Annotated[bool, typer.Option("--int8", help="ONNX only: int8 weights (dynamic quantization).")]


def _done(path: Path, started: float) -> None:
    """Report the written file."""
    size = path.stat().st_size / 2**20
    out.print(f"wrote [bold]{path}[/bold] ({size:.1f} MB) in {time.perf_counter() - started:.1f} s")


def export_embedder_command(
    out_path: Annotated[Path, typer.Option("--out", help="File to write (.onnx or .pt).")],
    fmt: FormatOption = Format.onnx,
    int8: Int8Option = False,
    model: Annotated[
        Path | None, typer.Option(help="sentence-transformers folder (default: the bundled MiniLM).")
    ] = None,
    check: Annotated[bool, typer.Option(help="Compare the exported model with torch on a few texts.")] = True,
) -> None:
    """Export the sentence embedder (encoder + mean pooling + normalisation) and check it against torch."""
    from citegraph.errors import ModelNotFoundError
    from citegraph.models.paths import resolve_model_path

    if int8 and fmt is not Format.onnx:
        raise _fail("--int8 needs --format onnx (the quantizer is ONNX Runtime's)")
    try:
        model_path = resolve_model_path(model, "embedding")
    except ModelNotFoundError as error:
        raise _fail(str(error)) from None
    started = time.perf_counter()
    with out.status(f"exporting {model_path.name} to {fmt.value}{' int8' if int8 else ''}..."):
        from citegraph.models import export

        if fmt is Format.torchscript:
            export.export_embedder_torchscript(model_path, out_path)
        else:
            _write_onnx(lambda path: export.export_embedder_onnx(model_path, path), out_path, int8)
    _done(out_path, started)
    if check:
        with out.status("comparing with torch..."):
            low = _check_embedder(model_path, out_path, fmt)
        out.print(f"lowest cosine to torch over {len(CHECK_TEXTS)} texts: [bold]{low:.6f}[/bold]")


def _check_embedder(model_path: Path, path: Path, fmt: Format) -> float:
    """Lowest cosine between the exported model's vectors and sentence-transformers' on ``CHECK_TEXTS``."""
    from citegraph.models.export import OrtSentenceEncoder, cosines
    from citegraph.retrieval.embeddings import Embedder

    reference = Embedder(model_path, backend="torch").embed_documents(CHECK_TEXTS)
    if fmt is Format.onnx:
        got = OrtSentenceEncoder(path, model_path).encode(CHECK_TEXTS)
    else:
        got = _torchscript_embed(model_path, path)
    return float(cosines(got, reference).min())


def _torchscript_embed(model_path: Path, path: Path):  # type: ignore[no-untyped-def]
    """Vectors of ``CHECK_TEXTS`` from a TorchScript embedder, tokenized as the ORT path does."""
    import numpy as np
    import torch

    from citegraph.models.export import OrtSentenceEncoder

    tokenizer = OrtSentenceEncoder.tokenizer_for(model_path)
    scripted = torch.jit.load(str(path))
    rows = []
    for text in CHECK_TEXTS:
        encoding = tokenizer.encode(text.strip())
        with torch.no_grad():
            vector = scripted(torch.tensor([encoding.ids]), torch.tensor([encoding.attention_mask]))
        rows.append(vector[0].numpy())
    return np.stack(rows)


def export_scratch_command(
    directory: Annotated[
        str, typer.Argument(help="Run folder of `citegraph train scratch` (scratch:DIR too).")
    ],
    out_path: Annotated[Path, typer.Option("--out", help="File to write (.onnx or .pt).")],
    fmt: FormatOption = Format.onnx,
    int8: Int8Option = False,
    check: Annotated[
        bool, typer.Option(help=f"Compare {CHECK_TOKENS} greedy tokens of the export with torch's.")
    ] = True,
) -> None:
    """Export the from-scratch GPT (token ids -> next-token logits, no KV cache) and check greedy decoding."""
    from citegraph.errors import ModelNotFoundError

    if int8 and fmt is not Format.onnx:
        raise _fail("--int8 needs --format onnx (the quantizer is ONNX Runtime's)")
    started = time.perf_counter()
    with out.status(f"exporting the scratch model to {fmt.value}{' int8' if int8 else ''}..."):
        from citegraph.models import export
        from citegraph.models.scratch.generate import load_model

        try:
            model, tokenizer = load_model(directory.removeprefix("scratch:"))
        except ModelNotFoundError as error:
            raise _fail(str(error)) from None
        if fmt is Format.torchscript:
            export.export_gpt_torchscript(model, out_path)
        else:
            _write_onnx(lambda path: export.export_gpt_onnx(model, path), out_path, int8)
    _done(out_path, started)
    if check:
        with out.status("comparing greedy decoding with torch..."):
            prompt = tokenizer.encode("The ") or [0]
            same, total = export.compare_greedy(model, out_path, prompt, CHECK_TOKENS, fmt.value)
        colour = "green" if same == total else "yellow"
        out.print(f"greedy tokens identical to torch: [{colour}]{same}/{total}[/{colour}]")


def export_gguf_lora_command(
    adapter: Annotated[Path, typer.Argument(help="PEFT LoRA adapter folder (citegraph train lora-*).")],
    out_path: Annotated[Path, typer.Option("--out", help="LoRA .gguf file to write.")],
    base: Annotated[
        str, typer.Option(help="The GGUF the adapter was trained on: a .gguf file or smollm2.")
    ] = "smollm2",
) -> None:
    """Write a LoRA adapter as a llama.cpp LoRA GGUF (for llama.cpp's --lora, or gguf:BASE+FILE); CiteGraph
    converts on its own when a spec names the adapter folder (gguf:smollm2+DIR)."""
    from citegraph.errors import ModelNotFoundError
    from citegraph.models.llamacpp import gguf_path
    from citegraph.models.lora.gguf_adapter import write_gguf_lora

    started = time.perf_counter()
    try:
        write_gguf_lora(adapter, gguf_path(base), out_path)
    except ModelNotFoundError as error:
        raise _fail(str(error)) from None
    _done(out_path, started)


def register(app: typer.Typer, train_app: typer.Typer, eval_app: typer.Typer) -> None:
    """Add ``citegraph export embedder|scratch|gguf-lora`` to the ``citegraph`` command."""
    export_app = typer.Typer(
        help="Export models to ONNX or TorchScript, LoRA adapters to llama.cpp.", no_args_is_help=True
    )
    export_app.command("embedder")(export_embedder_command)
    export_app.command("scratch")(export_scratch_command)
    export_app.command("gguf-lora")(export_gguf_lora_command)
    app.add_typer(export_app, name="export")
