"""Decoding and the chat-model wrapper: cache equivalence, sampling, stop sequences, LangChain API."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
import torch
from langchain_core.messages import AIMessage, AIMessageChunk, HumanMessage, SystemMessage

from citegraph.errors import ModelNotFoundError
from citegraph.models.scratch.chat_model import ScratchChatModel, format_chat, load_chat_model
from citegraph.models.scratch.generate import (
    SamplingConfig,
    generate_ids,
    generate_text,
    load_model,
    process_logits,
    stream_text,
)
from citegraph.models.scratch.model import GPT, GPTConfig
from citegraph.models.scratch.train import train
from tests.conftest import tiny_train_config

PATTERN = "User: ping\nAssistant: pong pong.\n"


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A char model trained until it has learned a fixed two-line dialogue (greedy output is then known)."""
    root = tmp_path_factory.mktemp("scratch_run")
    (root / "text.txt").write_text(PATTERN * 300, encoding="utf-8")
    cfg = tiny_train_config(
        data=[str(root / "text.txt")],
        out_dir=str(root / "run"),
        max_iters=60,
        lr=2e-2,
        min_lr=2e-3,
        eval_interval=60,
        eval_iters=2,
    )
    train(cfg)
    return root / "run"


def random_model(**overrides) -> GPT:
    torch.manual_seed(1)
    return GPT(
        GPTConfig(
            **{"vocab_size": 50, "block_size": 16, "n_layer": 2, "n_head": 4, "n_embd": 32, **overrides}
        )
    ).eval()


@pytest.mark.parametrize(
    "overrides", [{}, {"n_kv_head": 2}, {"pos": "learned"}, {"pos": "sinusoidal", "n_kv_head": 1}]
)
def test_greedy_with_and_without_cache_is_identical_past_the_block(overrides: dict) -> None:
    model = random_model(**overrides)
    prompt = [3, 1, 4, 1, 5]
    for sc in (
        SamplingConfig(max_new_tokens=40, temperature=0),  # 45 tokens > block 16: the window slides twice
        SamplingConfig(max_new_tokens=40, temperature=1.0, seed=0),  # same draws, so same logits => same text
    ):
        cached = list(generate_ids(model, prompt, sc))
        uncached = list(generate_ids(model, prompt, replace(sc, use_cache=False)))
        assert len(cached) == 40 and cached == uncached
    assert len(set(cached)) > 5  # the sampled sequence is not trivially constant


def test_sampling_controls() -> None:
    model = random_model()
    prompt = [7, 8, 9]
    greedy = list(generate_ids(model, prompt, SamplingConfig(max_new_tokens=10, temperature=0)))
    top1 = list(
        generate_ids(model, prompt, SamplingConfig(max_new_tokens=10, temperature=1.5, top_k=1, seed=3))
    )
    nucleus = list(
        generate_ids(model, prompt, SamplingConfig(max_new_tokens=10, temperature=1.0, top_p=1e-6, seed=3))
    )
    assert top1 == greedy and nucleus == greedy
    hot = SamplingConfig(max_new_tokens=20, temperature=2.0, seed=5)
    a, b = list(generate_ids(model, prompt, hot)), list(generate_ids(model, prompt, hot))
    assert a == b and a != greedy[:20]  # seeded sampling is reproducible and differs from greedy


def test_process_logits_penalty_topk_topp() -> None:
    logits = torch.tensor([2.0, 1.0, -1.0, 0.5])
    penalised = process_logits(
        logits, torch.tensor([0, 2]), SamplingConfig(temperature=0, repetition_penalty=2.0)
    )
    assert penalised.tolist() == [1.0, 1.0, -2.0, 0.5]
    topk = process_logits(logits, torch.tensor([]), SamplingConfig(temperature=1.0, top_k=2))
    assert torch.isinf(topk).tolist() == [False, False, True, True]
    # Probabilities ~ [0.61, 0.22, 0.03, 0.14]: top_p=0.7 keeps the two most likely.
    topp = process_logits(logits, torch.tensor([]), SamplingConfig(temperature=1.0, top_p=0.7))
    assert torch.isinf(topp).tolist() == [False, False, True, True]
    with pytest.raises(ValueError):
        SamplingConfig(top_p=0.0)


def test_trained_model_continues_and_stops(run_dir: Path) -> None:
    model, tok = load_model(run_dir)
    text = generate_text(
        model, tok, "User: ping\nAssistant:", SamplingConfig(max_new_tokens=30, temperature=0)
    )
    assert text.startswith(" pong pong.\nUser: ping")
    stopped = generate_text(
        model,
        tok,
        "User: ping\nAssistant:",
        SamplingConfig(max_new_tokens=30, temperature=0, stop=["\nUser:"]),
    )
    assert stopped == " pong pong."
    pieces = list(
        stream_text(
            model,
            tok,
            "User: ping\nAssistant:",
            SamplingConfig(max_new_tokens=30, temperature=0, stop=["ng."]),
        )
    )
    assert "".join(pieces) == " pong po" and all("ng." not in p for p in pieces)


def test_chat_model_invoke_and_stream(run_dir: Path) -> None:
    chat = load_chat_model(f"scratch:{run_dir}", temperature=0, max_tokens=30)
    assert isinstance(chat, ScratchChatModel) and chat._llm_type == "citegraph-scratch"
    reply = chat.invoke([HumanMessage("ping")])
    assert isinstance(reply, AIMessage) and reply.content == "pong pong."
    chunks = list(chat.stream("ping"))
    assert (
        all(isinstance(c, AIMessageChunk) for c in chunks)
        and "".join(c.content for c in chunks) == "pong pong."
    )
    assert chat.invoke("ping", stop=["ng."]).content == "pong po"


def test_chat_format_is_plain_role_lines() -> None:
    prompt = format_chat(
        [SystemMessage("Be brief."), HumanMessage("Hi"), AIMessage("Hello."), HumanMessage("Who?")]
    )
    assert prompt == "System: Be brief.\nUser: Hi\nAssistant: Hello.\nUser: Who?\nAssistant:"


def test_model_specs_that_do_not_resolve_fail_clearly(tmp_path: Path) -> None:
    with pytest.raises(ModelNotFoundError, match="not found"):
        load_chat_model(f"scratch:{tmp_path / 'missing'}")
    with pytest.raises(ModelNotFoundError, match="no scratch checkpoint"):
        load_chat_model(f"scratch:{tmp_path}")
    with pytest.raises(ValueError, match="not a scratch model spec"):
        load_chat_model("hf:/somewhere")
    with pytest.raises(ValueError, match="empty directory"):
        load_chat_model("scratch:")
