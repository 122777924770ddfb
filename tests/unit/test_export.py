"""ONNX / TorchScript export: exported models agree with torch, the ORT embedder keeps stores honest.

Everything runs on tiny random models made here with fixed seeds (a 2-layer, 32-wide BERT with the bundled
MiniLM's tokenizer; 2-layer GPTs); the real MiniLM's figures are in benchmarks/onnx_embedder.py.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from citegraph.models import export
from citegraph.models.paths import bundled_embedding_path
from citegraph.retrieval import embeddings
from citegraph.retrieval.embeddings import Embedder

TEXTS = [
    "what is a cat?",
    "   surrounded by spaces   ",
    "ภาษาไทยเป็นภาษาราชการของประเทศไทย แมวเป็นสัตว์เลี้ยงที่นิยม",
    "x",
    "Sherlock Holmes took his bottle from the corner of the mantel-piece. " * 30,  # past 256 tokens
    "ไทย " * 300,
]
TOKENIZER_FILES = ["tokenizer.json", "tokenizer_config.json", "vocab.txt", "special_tokens_map.json"]

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A sentence-transformers folder: random 2-layer BERT (seed 0), MiniLM's tokenizer, mean pooling."""
    import torch
    from transformers import BertConfig, BertModel

    folder = tmp_path_factory.mktemp("tiny_st") / "tiny-minilm"
    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=30522,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=512,
    )
    BertModel(config).save_pretrained(folder)
    bundled = bundled_embedding_path()
    for name in [*TOKENIZER_FILES, "modules.json", "sentence_bert_config.json"]:
        shutil.copy(bundled / name, folder / name)
    (folder / "1_Pooling").mkdir()
    pooling = json.loads((bundled / "1_Pooling" / "config.json").read_text(encoding="utf-8"))
    pooling["word_embedding_dimension"] = 32
    (folder / "1_Pooling" / "config.json").write_text(json.dumps(pooling), encoding="utf-8")
    return folder


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private ``XDG_CACHE_HOME``, so first-use export really happens and lands there."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv(embeddings.BACKEND_ENV, raising=False)
    return tmp_path / "cache" / "citegraph" / "onnx"


@pytest.fixture(scope="module")
def torch_vectors(tiny_model: Path) -> np.ndarray:
    """sentence-transformers' vectors of ``TEXTS`` (the reference)."""
    return Embedder(tiny_model, batch_size=4, backend="torch").embed_documents(TEXTS)


def test_onnx_embedder_matches_torch_and_is_exported_once(
    tiny_model: Path, cache: Path, torch_vectors: np.ndarray
) -> None:
    first = Embedder(tiny_model, batch_size=4, backend="onnx")
    vectors = first.embed_documents(TEXTS)
    assert vectors.shape == (len(TEXTS), 32) and vectors.dtype == np.float32
    assert export.cosines(vectors, torch_vectors).min() >= 0.9999
    assert first.export_seconds > 0
    assert [p.name for p in cache.glob("*/*.onnx")] == ["model.onnx"]

    again = Embedder(tiny_model, backend="onnx")  # a new process would find the same cached file
    query = again.embed_query(TEXTS[2])
    assert again.export_seconds == 0.0 and again.ort.onnx_path == first.ort.onnx_path
    assert float(query @ torch_vectors[2]) >= 0.9999
    # Same vectors, same name: torch and fp32 ONNX may share a store; LangChain sees the same numbers.
    assert again.name == Embedder(tiny_model, backend="torch").name == tiny_model.name
    assert np.allclose(again.langchain.embed_query(TEXTS[0]), vectors[0], atol=1e-5)
    assert again.dimension == 32


def test_int8_embedder_is_close_but_named_apart(
    tiny_model: Path, cache: Path, torch_vectors: np.ndarray
) -> None:
    int8 = Embedder(tiny_model, backend="onnx-int8")
    vectors = int8.embed_documents(TEXTS)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert export.cosines(vectors, torch_vectors).min() > 0.9
    assert int8.name == f"{tiny_model.name}+onnx-int8"
    assert sorted(p.name for p in cache.glob("*/*.onnx")) == ["model.int8.onnx", "model.onnx"]
    assert int8.ort.onnx_path.stat().st_size < 0.6 * (cache.glob("*/model.onnx").__next__()).stat().st_size


def test_store_accepts_onnx_but_refuses_int8_vectors_in_a_torch_store(
    tiny_model: Path, cache: Path, tmp_path: Path
) -> None:
    from citegraph.ingest.pipeline import ingest_paths
    from citegraph.retrieval.store import HybridStore, StoreError
    from citegraph.settings import Settings

    doc = tmp_path / "doc.txt"
    paragraphs = [
        "Cats sleep most of the day and hunt at night. " * 3,
        "The harbour closes at dusk in winter, and ferries stop at six. " * 3,
        "Thai script writes words without spaces between them. " * 3,
    ]
    doc.write_text("\n\n".join(paragraphs), encoding="utf-8")
    settings = Settings(store_dir=tmp_path / "store", chunk_size=200, chunk_overlap=0)
    store = HybridStore(settings, embedder=Embedder(tiny_model, backend="torch"))
    ingest_paths(store, [doc], settings)
    torch_ranking = store.dense_ranking("when does the harbour close", 3)
    assert len(torch_ranking) == 3
    store.close()

    onnx_store = HybridStore(settings, embedder=Embedder(tiny_model, backend="onnx"))
    ranking = onnx_store.dense_ranking("when does the harbour close", 3)
    assert [cid for cid, _ in ranking] == [cid for cid, _ in torch_ranking]
    assert np.allclose([s for _, s in ranking], [s for _, s in torch_ranking], atol=1e-4)
    onnx_store.close()

    int8_store = HybridStore(settings, embedder=Embedder(tiny_model, backend="onnx-int8"))
    with pytest.raises(StoreError, match="onnx-int8"):
        int8_store.dense_ranking("when does the harbour close", 2)
    int8_store.close()


def test_backend_choice_and_fallback(tiny_model: Path, cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert Embedder(tiny_model).backend == embeddings.DEFAULT_BACKEND == "onnx"
    monkeypatch.setenv(embeddings.BACKEND_ENV, "torch")
    assert Embedder(tiny_model).backend == "torch"
    monkeypatch.setenv(embeddings.BACKEND_ENV, "tensorflow")
    with pytest.raises(ValueError, match="unknown embedding backend"):
        Embedder(tiny_model)
    monkeypatch.delenv(embeddings.BACKEND_ENV)

    def broken(*args: object, **kwargs: object) -> None:
        """An export that cannot run here."""
        raise RuntimeError("no exporter here")

    monkeypatch.setattr(export, "ensure_embedder_onnx", broken)
    defaulted = Embedder(tiny_model)  # the default may fall back: torch makes the same vectors
    assert defaulted.embed_documents(["a cat"]).shape == (1, 32)
    assert defaulted.backend == "torch"
    with pytest.raises(RuntimeError, match="no exporter"):
        Embedder(tiny_model, backend="onnx").embed_query("a cat")  # asked for explicitly: no fallback


def test_embedder_torchscript_matches_torch(
    tiny_model: Path, tmp_path: Path, torch_vectors: np.ndarray
) -> None:
    import torch

    path = export.export_embedder_torchscript(tiny_model, tmp_path / "embedder.pt")
    scripted = torch.jit.load(str(path))
    tokenizer = export.OrtSentenceEncoder.tokenizer_for(tiny_model)
    encodings = tokenizer.encode_batch([t.strip() for t in TEXTS])  # padded to the longest: masks matter
    with torch.no_grad():
        vectors = scripted(
            torch.tensor([e.ids for e in encodings]), torch.tensor([e.attention_mask for e in encodings])
        ).numpy()
    assert export.cosines(vectors, torch_vectors).min() >= 0.9999


def tiny_gpt(**overrides: object):  # a GPT; torch imported by the caller's fixture
    """A random 2-layer GPT (seed 0) with a 16-token window, so 40 new tokens slide the window."""
    import torch

    from citegraph.models.scratch.model import GPT, GPTConfig

    torch.manual_seed(0)
    base: dict[str, object] = dict(vocab_size=50, block_size=16, n_layer=2, n_head=4, n_embd=32)
    model = GPT(GPTConfig(**{**base, **overrides})).eval()
    with torch.no_grad():  # GPT-2 init (std 0.02) with tied embeddings just repeats the last token
        for weight in model.parameters():
            if weight.dim() == 2:
                weight.normal_(0.0, 0.3)
    return model


GPT_VARIANTS = {
    "rope-rmsnorm-swiglu-gqa": dict(n_kv_head=2),
    "learned-layernorm-gelu": dict(pos="learned", norm="layernorm", mlp="gelu", bias=True),
    "sinusoidal": dict(pos="sinusoidal"),
}


@pytest.mark.parametrize("variant", GPT_VARIANTS)
def test_gpt_onnx_greedy_tokens_identical(variant: str, tmp_path: Path) -> None:
    import torch

    model = tiny_gpt(**GPT_VARIANTS[variant])
    path = export.export_gpt_onnx(model, tmp_path / "gpt.onnx")
    session = export.ort_session(path, threads=1)
    for length in (1, 2, 9, 16):  # every window length, the one-token window included
        idx = torch.randint(0, 50, (2, length), generator=torch.Generator().manual_seed(length))
        with torch.no_grad():
            want = model(idx)[0][:, -1].numpy()
        got = session.run(None, {"idx": idx.numpy()})[0]
        assert np.abs(got - want).max() < 1e-4
    prompt = [3, 1, 4, 1, 5]
    want_tokens = export.torch_greedy(model, prompt, 40)
    assert export.ort_greedy(session, prompt, 40, model.config.block_size) == want_tokens
    assert len(set(want_tokens)) > 1  # a constant stream would prove little


def test_gpt_torchscript_greedy_tokens_identical(tmp_path: Path) -> None:
    model = tiny_gpt(n_kv_head=2)
    path = export.export_gpt_torchscript(model, tmp_path / "gpt.pt")
    assert export.compare_greedy(model, path, [7, 7, 2], 40, "torchscript") == (40, 40)


def test_gpt_int8_onnx_runs(tmp_path: Path) -> None:
    model = tiny_gpt()
    path = export.quantize_int8(
        export.export_gpt_onnx(model, tmp_path / "gpt.onnx"), tmp_path / "gpt.int8.onnx"
    )
    tokens = export.ort_greedy(export.ort_session(path), [1, 2, 3], 10, model.config.block_size)
    assert len(tokens) == 10 and all(0 <= t < 50 for t in tokens)


runner = CliRunner()


def test_cli_exports_and_checks(tiny_model: Path, tmp_path: Path) -> None:
    import torch

    from citegraph.cli import app
    from citegraph.models.scratch.tokenizer import CharTokenizer

    out = tmp_path / "e.onnx"
    result = runner.invoke(app, ["export", "embedder", "--model", str(tiny_model), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert out.is_file() and "lowest cosine to torch" in result.output
    low = float(result.output.split("texts:")[1].split()[0])
    assert low >= 0.9999

    run = tmp_path / "run"
    run.mkdir()
    tokenizer = CharTokenizer("The quick brown fox jumps over a lazy dog")
    tokenizer.save(run)
    model = tiny_gpt(vocab_size=tokenizer.vocab_size)
    torch.save({"model_config": model.config.to_dict(), "model": model.state_dict()}, run / "model.pt")
    for fmt, name in (("onnx", "g.onnx"), ("torchscript", "g.pt")):
        result = runner.invoke(
            app, ["export", "scratch", str(run), "--format", fmt, "--out", str(tmp_path / name)]
        )
        assert result.exit_code == 0, result.output
        assert "identical to torch: 24/24" in result.output


def test_cli_errors(tmp_path: Path) -> None:
    from citegraph.cli import app

    result = runner.invoke(
        app, ["export", "scratch", str(tmp_path / "none"), "--out", str(tmp_path / "g.onnx")]
    )
    assert result.exit_code == 2 and "scratch model directory not found" in result.output
    result = runner.invoke(
        app, ["export", "embedder", "--format", "torchscript", "--int8", "--out", str(tmp_path / "e.pt")]
    )
    assert result.exit_code == 2 and "--int8 needs --format onnx" in result.output


def test_cli_module_stays_light() -> None:
    import subprocess
    import sys

    code = "import sys, citegraph.models.export_cli, citegraph.models.export; print('torch' in sys.modules)"
    assert (
        subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stdout.strip() == "False"
    )
