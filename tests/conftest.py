"""Shared fixtures: offline switches, one embedder and judge per session, real PDFs written by the test."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from citegraph.settings import OFFLINE_ENV

os.environ.update(OFFLINE_ENV)
os.environ.update({"LANGSMITH_TRACING": "false", "LANGGRAPH_CLI_NO_ANALYTICS": "1"})


@pytest.fixture(scope="session")
def embedder():
    """The bundled MiniLM, loaded once for the whole test session."""
    from citegraph.retrieval.embeddings import Embedder

    return Embedder()


@pytest.fixture(scope="session")
def judge():
    """The judge shipped in the package (trained by ``citegraph train judge``), loaded once."""
    from citegraph.models.judge.judge import judge_at

    return judge_at()


@pytest.fixture(scope="session")
def tiny_base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 2-layer, 32-wide random BERT saved like the bundled encoder (the judge's base)."""
    import torch
    from transformers import BertConfig, BertModel

    torch.manual_seed(0)
    folder = tmp_path_factory.mktemp("tiny_base")
    config = BertConfig(
        vocab_size=30522, hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64
    )
    BertModel(config, add_pooling_layer=False).save_pretrained(folder)
    return folder


@pytest.fixture(scope="session")
def tiny_judge(embedder):
    """A judge with one random 32-wide layer (fixed seed): exercises the code, not the model's skill."""
    import torch
    from transformers import BertConfig

    from citegraph.models.judge.judge import Judge, load_tokenizer
    from citegraph.models.judge.model import JudgeConfig, JudgeModel

    torch.manual_seed(0)
    bert = BertConfig(
        vocab_size=30522, hidden_size=32, num_hidden_layers=1, num_attention_heads=2, intermediate_size=64
    )
    return Judge(JudgeModel(JudgeConfig(layers=1), bert), load_tokenizer(), embedder=embedder)


@pytest.fixture
def settings(tmp_path: Path):
    """Settings with a fresh store directory and small chunks (so small files still make several)."""
    from citegraph.settings import Settings

    return Settings(store_dir=tmp_path / "store", chunk_size=300, chunk_overlap=60)


@pytest.fixture
def make_store(settings, embedder) -> Callable:
    """Open (or reopen) the store of ``settings``; all opened stores are closed at teardown."""
    from citegraph.retrieval.store import HybridStore

    opened = []

    def make(s=None):
        store = HybridStore(s or settings, embedder=embedder)
        opened.append(store)
        return store

    yield make
    for store in opened:
        store.close()


def write_pdf(path: Path, pages: list[str], title: str | None = None) -> Path:
    """Write a real multi-page PDF with fpdf2 (one string per page)."""
    from fpdf import FPDF

    pdf = FPDF()
    if title:
        pdf.set_title(title)
    pdf.set_font("Helvetica", size=11)
    for text in pages:
        pdf.add_page()
        pdf.multi_cell(0, 6, text)
    pdf.output(str(path))
    return path


@pytest.fixture
def one_torch_thread():
    """Tiny models are overhead-bound: one thread is as fast and does not thrash on a busy machine."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def tiny_train_config(**fields: object):  # a TrainConfig; torch is imported only when called
    """The tiny char-level run the scratch tests train (2 layers, 32 wide); pass data, out_dir, overrides."""
    from citegraph.models.scratch.train import TrainConfig

    base: dict[str, object] = dict(
        tokenizer="char",
        n_layer=2,
        n_head=2,
        n_embd=32,
        block_size=32,
        batch_size=8,
        max_iters=40,
        lr=3e-3,
        min_lr=3e-4,
        warmup_iters=5,
        eval_interval=20,
        eval_iters=4,
        device="cpu",
        verbose=False,
    )
    return TrainConfig(**{**base, **fields})
