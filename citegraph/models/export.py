"""Export the embedder and the scratch GPT to ONNX and TorchScript, and run the ONNX files with ONNX Runtime.

- The embedder graph is the whole sentence-transformers pipeline after tokenization: BERT, mean pooling over
  the attention mask, L2 normalisation. Tokenization runs outside the graph with the model's own
  ``tokenizer.json`` (the ``tokenizers`` package), so the ORT path needs neither torch nor transformers.
- The scratch GPT graph maps token ids ``(B, T)`` to the last position's logits ``(B, vocab)``, with no KV
  cache: the greedy loop re-runs the window (the same windows ``generate_ids`` uses), which is what its
  uncached path computes too.
- ``ensure_embedder_onnx`` exports on first use into ``$XDG_CACHE_HOME/citegraph/onnx/<key>/`` where the key
  hashes the model folder's files and the export recipe, so a fresh machine works offline with no setup and
  the ~90 MB file never goes into git.

torch, transformers, onnx and onnxruntime are imported inside the functions that need them: the retrieval
package imports this module and must stay light.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

if TYPE_CHECKING:
    import onnxruntime
    import torch

# Bump when the exported graph or the quantization recipe changes: old cache entries are then not reused.
EXPORT_VERSION = 1
EMBEDDER_OPSET = 17
GPT_OPSET = 18
EMBEDDER_INPUTS = ("input_ids", "attention_mask")
Variant = Literal["fp32", "int8"]
ExportFormat = Literal["onnx", "torchscript"]


# ---------------------------------------------------------------------------------------------------------
# The cache of exported files


def cache_root() -> Path:
    """``$XDG_CACHE_HOME/citegraph/onnx`` (``~/.cache/citegraph/onnx``): exported graphs live here."""
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache) / "citegraph" / "onnx"


def embedder_key(model_path: Path, variant: Variant) -> str:
    """A short hash of the model folder (each file's name, size and mtime) and the export recipe.

    Size and mtime instead of the bytes: hashing 90 MB of weights on every start would cost more than the
    lookup is worth, and a changed file changes at least its mtime.
    """
    digest = hashlib.sha256(f"v{EXPORT_VERSION}/{variant}/opset{EMBEDDER_OPSET}".encode())
    for file in sorted(p for p in model_path.rglob("*") if p.is_file()):
        stat = file.stat()
        digest.update(f"{file.relative_to(model_path)}:{stat.st_size}:{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()[:16]


@dataclass(frozen=True)
class CachedExport:
    """Where an exported embedder lives, and what this call paid to make it (0 when it was cached)."""

    path: Path
    exported: bool
    seconds: float


def ensure_embedder_onnx(
    model_path: Path, variant: Variant = "fp32", root: Path | None = None
) -> CachedExport:
    """The cached ONNX file of ``model_path`` (fp32, or int8 made from the fp32 one), exported if missing.

    Each writer exports to a private temporary file and renames it into place, so two processes exporting
    at once both succeed and nobody ever opens a half-written file.
    """
    folder = (root or cache_root()) / f"{model_path.name}-{embedder_key(model_path, variant)}"
    target = folder / ("model.onnx" if variant == "fp32" else "model.int8.onnx")
    if target.is_file():
        return CachedExport(target, exported=False, seconds=0.0)
    started = time.perf_counter()
    folder.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f"{target.stem}.tmp{os.getpid()}.onnx")
    try:
        if variant == "fp32":
            export_embedder_onnx(model_path, partial)
        else:
            quantize_int8(ensure_embedder_onnx(model_path, "fp32", root).path, partial)
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)
    (folder / "source.json").write_text(
        json.dumps({"model_path": str(model_path), "variant": variant, "export_version": EXPORT_VERSION}),
        encoding="utf-8",
    )
    return CachedExport(target, exported=True, seconds=time.perf_counter() - started)


# ---------------------------------------------------------------------------------------------------------
# Export: the embedder


def pooled_encoder(model_path: Path) -> torch.nn.Module:
    """The sentence-transformers model as one module: ``(input_ids, attention_mask) -> unit vectors``.

    Eager attention because it traces to plain MatMul/Softmax that every exporter and runtime handles;
    token_type_ids are all zero for single sentences, so they are made inside the graph.
    """
    import torch
    from transformers import AutoModel
    from transformers.utils import logging as hf_logging

    from citegraph.settings import force_offline

    force_offline()
    hf_logging.disable_progress_bar()  # a "Loading weights" bar on every first-use export is noise
    encoder = AutoModel.from_pretrained(str(model_path), attn_implementation="eager", local_files_only=True)

    class PooledEncoder(torch.nn.Module):
        """BERT, then the mean of the unmasked token states, then L2 normalisation."""

        def __init__(self) -> None:
            """Wrap the loaded encoder."""
            super().__init__()
            self.encoder = encoder

        def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
            """Unit sentence vectors ``(B, dim)``."""
            states = self.encoder(
                input_ids=input_ids,
                attention_mask=attention_mask,
                token_type_ids=torch.zeros_like(input_ids),
            ).last_hidden_state
            weights = attention_mask.unsqueeze(-1).to(states.dtype)
            mean = (states * weights).sum(1) / weights.sum(1).clamp(min=1e-9)
            return torch.nn.functional.normalize(mean, p=2, dim=1)

    return PooledEncoder().eval()


def _example_batch() -> tuple[torch.Tensor, torch.Tensor]:
    """Two sequences of different real lengths (one padded), so no shape is specialised by accident."""
    import torch

    ids = torch.tensor([[101, 2023, 2003, 1037, 6251, 102], [101, 7592, 102, 0, 0, 0]])
    return ids, (ids != 0).long()


def export_embedder_onnx(model_path: Path, out: Path) -> Path:
    """Write the pooled encoder of ``model_path`` to ``out`` as one ONNX file (batch and length dynamic).

    The TorchScript-based exporter (``dynamo=False``): for this BERT it gives the same graph speed as the
    dynamo exporter in a quarter of the time (4 s vs 17 s on 2 busy cores), which is what a first query pays.
    """
    import torch

    module = pooled_encoder(model_path)
    out.parent.mkdir(parents=True, exist_ok=True)
    axes = {"batch": 0, "length": 1}
    with torch.no_grad(), _quiet_export():
        torch.onnx.export(
            module,
            _example_batch(),
            str(out),
            dynamo=False,
            input_names=list(EMBEDDER_INPUTS),
            output_names=["embeddings"],
            dynamic_axes={
                "input_ids": {v: k for k, v in axes.items()},
                "attention_mask": {v: k for k, v in axes.items()},
                "embeddings": {0: "batch"},
            },
            opset_version=EMBEDDER_OPSET,
        )
    return out


def export_embedder_torchscript(model_path: Path, out: Path) -> Path:
    """Trace the pooled encoder to a TorchScript file loadable with ``torch.jit.load`` (no transformers)."""
    import torch

    module = pooled_encoder(model_path)
    out.parent.mkdir(parents=True, exist_ok=True)
    with torch.no_grad(), _quiet_export():
        traced = torch.jit.trace(module, _example_batch(), check_trace=False)
    traced.save(str(out))
    return out


def quantize_int8(source: Path, out: Path) -> Path:
    """ONNX Runtime dynamic quantization: int8 weights, activations quantized per batch at run time."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    out.parent.mkdir(parents=True, exist_ok=True)
    # Per-channel weight scales: per-tensor ones cost MiniLM ~0.93 mean cosine to fp32, per-channel ~0.99.
    with _quiet_export():
        quantize_dynamic(str(source), str(out), weight_type=QuantType.QInt8, per_channel=True)
    return out


@contextlib.contextmanager
def _quiet_export() -> Iterator[None]:
    """Silence tracer, exporter and quantizer warnings.

    The tracers flag shape branches that are constant for these graphs, the dynamo exporter logs that
    torchvision is absent, and the quantizer suggests a pre-processing pass (on the root logger).
    """
    import logging
    import warnings

    loggers = [logging.getLogger(), logging.getLogger("torch.onnx")]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)


# ---------------------------------------------------------------------------------------------------------
# Export: the scratch GPT


def last_logits_module(model: torch.nn.Module) -> torch.nn.Module:
    """Wrap a scratch ``GPT``: ``idx (B, T) -> logits of the last position (B, vocab)`` (no cache)."""
    import torch

    class LastLogits(torch.nn.Module):
        """The GPT's forward without targets, squeezed to the last position."""

        def __init__(self) -> None:
            """Wrap the model."""
            super().__init__()
            self.model = model

        def forward(self, idx: torch.Tensor) -> torch.Tensor:
            """Next-token logits for each sequence."""
            logits, _ = self.model(idx)
            return logits[:, -1, :]

    return LastLogits().eval()


@contextlib.contextmanager
def _concrete_causal_flag() -> Iterator[None]:
    """Let tracers through the scratch attention's ``is_causal=(past == 0 and T > 1)``.

    Under tracing ``T > 1`` is a symbolic value and ``scaled_dot_product_attention`` wants a Python bool.
    Traced with T > 1 the flag is True; a one-token window is also correct under True (its triangle is the
    one cell), so the exported graph is exact for every length. Scoped to the export and restored after.
    """
    import torch.nn.functional as F

    original = F.scaled_dot_product_attention

    def sdpa(*args: Any, is_causal: Any = False, **kwargs: Any) -> Any:
        """``scaled_dot_product_attention`` with the flag made concrete."""
        return original(*args, is_causal=bool(is_causal), **kwargs)

    F.scaled_dot_product_attention = sdpa
    try:
        yield
    finally:
        F.scaled_dot_product_attention = original


def _gpt_example(model: torch.nn.Module) -> torch.Tensor:
    """A short prompt (length >= 2, see ``_concrete_causal_flag``) of valid token ids."""
    import torch

    config = model.config
    length = max(2, min(8, config.block_size))
    return torch.arange(length, dtype=torch.long)[None] % config.vocab_size


def export_gpt_onnx(model: torch.nn.Module, out: Path) -> Path:
    """Write a scratch GPT to one ONNX file, batch and length dynamic (up to its ``block_size``).

    The dynamo exporter: the TorchScript one has no ONNX form for ``aten::rms_norm``.
    """
    import torch

    wrapper = last_logits_module(model)
    out.parent.mkdir(parents=True, exist_ok=True)
    with torch.no_grad(), _concrete_causal_flag(), _quiet_export(), _quiet_stdout():
        program = torch.onnx.export(
            wrapper,
            (_gpt_example(model),),
            dynamo=True,
            input_names=["idx"],
            output_names=["logits"],
            dynamic_axes={"idx": {0: "batch", 1: "length"}, "logits": {0: "batch"}},
            opset_version=GPT_OPSET,
        )
    # Saved by hand with the weights inside: one self-contained file (these models are far below 2 GB).
    program.save(str(out), external_data=False)
    return out


def export_gpt_torchscript(model: torch.nn.Module, out: Path) -> Path:
    """Trace a scratch GPT to TorchScript (``idx -> last logits``); sizes stay dynamic in the trace."""
    import torch

    wrapper = last_logits_module(model)
    out.parent.mkdir(parents=True, exist_ok=True)
    with torch.no_grad(), _concrete_causal_flag(), _quiet_export():
        traced = torch.jit.trace(wrapper, (_gpt_example(model),), check_trace=False)
    traced.save(str(out))
    return out


@contextlib.contextmanager
def _quiet_stdout() -> Iterator[None]:
    """The dynamo exporter prints its progress lines; a CLI shows its own progress instead."""
    with open(os.devnull, "w") as sink, contextlib.redirect_stdout(sink):
        yield


# ---------------------------------------------------------------------------------------------------------
# Running with ONNX Runtime


def ort_session(path: Path, threads: int | None = None) -> onnxruntime.InferenceSession:
    """A CPU ``InferenceSession`` with all graph optimisations; ``threads`` bounds intra-op threads."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    if threads:
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
    options.log_severity_level = 3  # errors only: ORT warns about unused initializers of traced graphs
    # No busy-waiting between runs: spinning pool threads keep cores hot after each query and slow down
    # everything else in the process (torch models, the server) on a small machine; measured on 2 cores,
    # torch's own query latency went from ~20 ms to over a second beside two idle-spinning sessions.
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.add_session_config_entry("session.inter_op.allow_spinning", "0")
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


class OrtSentenceEncoder:
    """Tokenize with the model's ``tokenizer.json`` and run an exported pooled encoder in ONNX Runtime.

    Mirrors sentence-transformers' ``encode``: texts stripped, truncated to the model's ``max_seq_length``,
    padded per batch, batches formed from texts of similar length (less padding), results in input order.
    """

    def __init__(self, onnx_path: Path, model_path: Path, threads: int | None = None) -> None:
        """Open the session and the tokenizer (both cheap: no torch, no transformers)."""
        self.onnx_path = onnx_path
        self.session = ort_session(onnx_path, threads)
        self.tokenizer = self.tokenizer_for(model_path)
        self.dimension = embedding_dimension(model_path)

    @staticmethod
    def tokenizer_for(model_path: Path) -> Any:
        """The model's fast tokenizer: truncates at ``max_seq_length``, pads to the batch's longest."""
        from tokenizers import Tokenizer

        tokenizer = Tokenizer.from_file(str(model_path / "tokenizer.json"))
        tokenizer.enable_truncation(max_length=max_seq_length(model_path))
        pad = tokenizer.token_to_id("[PAD]")
        tokenizer.enable_padding(pad_id=0 if pad is None else int(pad), pad_token="[PAD]")
        return tokenizer

    def encode(self, texts: Sequence[str], batch_size: int = 32) -> np.ndarray:
        """Unit vectors ``(len(texts), dim)`` float32, in the order of ``texts``."""
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        stripped = [str(t).strip() for t in texts]
        order = np.argsort([-len(t) for t in stripped], kind="stable")
        out = np.empty((len(stripped), self.dimension), dtype=np.float32)
        for start in range(0, len(order), batch_size):
            picked = order[start : start + batch_size]
            encodings = self.tokenizer.encode_batch([stripped[i] for i in picked])
            feeds = {
                "input_ids": np.array([e.ids for e in encodings], dtype=np.int64),
                "attention_mask": np.array([e.attention_mask for e in encodings], dtype=np.int64),
            }
            out[picked] = self.session.run(None, feeds)[0]
        # Renormalise: int8 graphs drift slightly off unit length, and cosine = dot product downstream.
        out /= np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-12)
        return out


def max_seq_length(model_path: Path, default: int = 256) -> int:
    """The sentence-transformers truncation length (``sentence_bert_config.json``)."""
    config = model_path / "sentence_bert_config.json"
    if config.is_file():
        return int(json.loads(config.read_text(encoding="utf-8")).get("max_seq_length", default))
    return default


def embedding_dimension(model_path: Path) -> int:
    """The output width: the pooling config's, else the encoder's ``hidden_size``."""
    pooling = model_path / "1_Pooling" / "config.json"
    if pooling.is_file():
        return int(json.loads(pooling.read_text(encoding="utf-8"))["word_embedding_dimension"])
    return int(json.loads((model_path / "config.json").read_text(encoding="utf-8"))["hidden_size"])


def ort_greedy(
    session: onnxruntime.InferenceSession, prompt: Sequence[int], max_new_tokens: int, block_size: int
) -> list[int]:
    """Greedy decoding of an exported scratch GPT in ONNX Runtime."""

    def run(window: list[int]) -> np.ndarray:
        """Last logits of one window."""
        return session.run(None, {"idx": np.array([window], dtype=np.int64)})[0]

    return _greedy(run, prompt, max_new_tokens, block_size)


def _greedy(
    run: Callable[[list[int]], np.ndarray], prompt: Sequence[int], max_new_tokens: int, block_size: int
) -> list[int]:
    """Greedy loop with ``generate_ids``' windows: a full window slides by half and is re-encoded."""
    if not prompt:
        raise ValueError("the prompt encodes to no tokens")
    seq = list(prompt)[-block_size:]
    keep, start, new = max(1, block_size // 2), 0, []
    for _ in range(max_new_tokens):
        if len(seq) - start >= block_size:
            start = len(seq) - keep
        token = int(np.argmax(run(seq[start:])[0]))  # first maximum on ties, as torch.argmax
        seq.append(token)
        new.append(token)
    return new


def torch_greedy(model: torch.nn.Module, prompt: Sequence[int], max_new_tokens: int) -> list[int]:
    """Greedy tokens of the scratch GPT in torch, through the project's own ``generate_ids`` (KV cache)."""
    from citegraph.models.scratch.generate import SamplingConfig, generate_ids

    config = SamplingConfig(max_new_tokens=max_new_tokens, temperature=0.0, stop_at_eot=False)
    return list(generate_ids(model, list(prompt), config))  # type: ignore[arg-type]


def torchscript_greedy(path: Path, prompt: Sequence[int], max_new_tokens: int, block_size: int) -> list[int]:
    """Greedy decoding of a TorchScript scratch GPT (``export_gpt_torchscript``), same windows as ORT's."""
    import torch

    scripted = torch.jit.load(str(path))

    def run(window: list[int]) -> np.ndarray:
        """Last logits of one window."""
        with torch.no_grad():
            return scripted(torch.tensor([window], dtype=torch.long)).numpy()

    return _greedy(run, prompt, max_new_tokens, block_size)


def compare_greedy(
    model: torch.nn.Module, path: Path, prompt: Sequence[int], max_new_tokens: int, fmt: ExportFormat
) -> tuple[int, int]:
    """(tokens equal to torch's at the same step, tokens generated) for an exported scratch GPT."""
    block = model.config.block_size
    want = torch_greedy(model, prompt, max_new_tokens)
    if fmt == "onnx":
        got = ort_greedy(ort_session(path), prompt, max_new_tokens, block)
    else:
        got = torchscript_greedy(path, prompt, max_new_tokens, block)
    return sum(a == b for a, b in zip(want, got, strict=True)), len(want)


def cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Row-wise cosine similarity of two ``(n, dim)`` arrays."""
    num = (a * b).sum(1)
    return num / np.maximum(np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1), 1e-12)
