"""Training the scratch model: loss goes down, resume is exact, early stopping, logs, clear data errors."""

from __future__ import annotations

import itertools
import json
import random
from dataclasses import replace
from pathlib import Path

import pytest
import torch

from citegraph.models.scratch.data import DataError, TokenData, prepare_data
from citegraph.models.scratch.evaluate import score_tokens
from citegraph.models.scratch.generate import load_model
from citegraph.models.scratch.train import TrainConfig, lr_at, train
from tests.conftest import tiny_train_config

WORDS = "the cat sat on a mat while old dogs ran to see small birds fly over green hills".split()


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def corpus(path: Path, sentences: int = 400, seed: int = 0) -> Path:
    """Learnable text: sentences drawn from a few fixed templates of a small vocabulary."""
    rng = random.Random(seed)
    templates = [rng.sample(WORDS, 6) for _ in range(5)]
    lines = [" ".join(rng.choice(templates)).capitalize() + "." for _ in range(sentences)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def tiny_config(tmp_path: Path, **overrides) -> TrainConfig:
    tmp_path.mkdir(parents=True, exist_ok=True)
    data = [str(corpus(tmp_path / "text.txt"))]
    return tiny_train_config(**{"data": data, "out_dir": str(tmp_path / "run"), **overrides})


def test_loss_decreases_and_run_directory_is_complete(tmp_path: Path) -> None:
    result = train(tiny_config(tmp_path))
    evals = result["history"]["eval"]
    assert [e["iter"] for e in evals] == [0, 20, 40]
    assert evals[-1]["val"] < evals[0]["val"] - 1.0  # from ~ln(vocab) to well below
    run = tmp_path / "run"
    for name in ("ckpt.pt", "model.pt", "log.json", "loss.png", "tokenizer.json", "train.bin", "val.bin"):
        assert (run / name).is_file(), name
    log = json.loads((run / "log.json").read_text())
    assert log["iters"] == 40 and log["params"] == result["params"] and log["tokens_per_s"] > 0
    assert (run / "loss.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_resume_continues_exactly(tmp_path: Path) -> None:
    # Dropout on, so the RNG state must be restored too; lr_decay_iters fixed so both schedules agree.
    common = dict(max_iters=12, lr_decay_iters=12, eval_interval=4, dropout=0.1, grad_accum=2)
    straight = train(tiny_config(tmp_path / "a", **common))
    cfg = tiny_config(tmp_path / "b", **{**common, "max_iters": 8})
    train(cfg)
    resumed = train(replace(cfg, max_iters=12, resume=True))
    assert resumed["iters"] == 12
    assert [loss for _, loss, _ in resumed["history"]["train"]] == [
        loss for _, loss, _ in straight["history"]["train"]
    ]
    a = torch.load(tmp_path / "a" / "run" / "ckpt.pt", weights_only=False)
    b = torch.load(tmp_path / "b" / "run" / "ckpt.pt", weights_only=False)
    for key, tensor in a["model"].items():
        assert torch.equal(tensor, b["model"][key]), key
    assert resumed["history"]["eval"] == straight["history"]["eval"]


def test_early_stopping_when_val_stops_improving(tmp_path: Path) -> None:
    # lr 0: the weights never change, so no evaluation can beat the first one.
    result = train(tiny_config(tmp_path, lr=0.0, min_lr=0.0, max_iters=100, eval_interval=5, patience=2))
    assert result["stopped_early"] and result["iters"] == 10


def test_label_smoothing_and_bf16_autocast_train(tmp_path: Path) -> None:
    result = train(tiny_config(tmp_path, max_iters=6, eval_interval=6, label_smoothing=0.1, dtype="bfloat16"))
    assert result["dtype"] == "bfloat16" and all(
        torch.isfinite(torch.tensor(e["val"])) for e in result["history"]["eval"]
    )


def test_lr_schedule_warms_up_then_decays_to_min() -> None:
    cfg = TrainConfig(lr=1.0, min_lr=0.1, warmup_iters=10, max_iters=100)
    lrs = [lr_at(i, cfg) for i in range(120)]
    assert lrs[0] < lrs[5] < lrs[9] <= 1.0
    assert all(a >= b for a, b in itertools.pairwise(lrs[10:101]))
    assert lrs[100] == pytest.approx(0.1) and lrs[119] == pytest.approx(0.1)


def test_bpe_data_preparation_and_perplexity(tmp_path: Path) -> None:
    text = corpus(tmp_path / "a.txt")
    tok = prepare_data([text], tmp_path / "run", kind="bpe", vocab_size=300)
    data = TokenData.open(tmp_path / "run")
    assert tok.vocab_size <= 300 and data.train.dtype.name == "uint16"
    assert tok.eot_id is not None and data.train[-1] == tok.eot_id  # documents end with <|endoftext|>
    assert len(data.val) < len(data.train) / 5
    # Perplexity: stride == block scores every token once, exp(loss) is the perplexity.
    train(
        tiny_config(
            tmp_path, data=[str(text)], tokenizer="bpe", vocab_size=300, max_iters=10, eval_interval=10
        )
    )
    model, _ = load_model(tmp_path / "run")
    full = score_tokens(model, data.val)
    assert full.tokens == len(data.val) - 1
    sliding = score_tokens(model, data.val, stride=8)
    assert sliding.tokens == full.tokens and sliding.perplexity == pytest.approx(
        torch.tensor(sliding.loss).exp().item()
    )


def test_missing_empty_and_too_short_data_fail_clearly(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="not found"):
        train(tiny_config(tmp_path, data=[str(tmp_path / "nope.txt")]))
    (tmp_path / "empty.txt").write_text("  \n")
    with pytest.raises(DataError, match="empty"):
        train(tiny_config(tmp_path, data=[str(tmp_path / "empty.txt")]))
    (tmp_path / "short.txt").write_text("just a few characters of text")
    with pytest.raises(DataError, match="too few"):
        train(tiny_config(tmp_path, data=[str(tmp_path / "short.txt")]))
    with pytest.raises(FileNotFoundError, match=r"ckpt\.pt"):
        train(tiny_config(tmp_path, out_dir=str(tmp_path / "fresh"), resume=True))


def test_batches_are_the_per_example_windows(tmp_path: Path) -> None:
    """The vectorised loader draws the same windows from the same generator state as a per-example loop."""
    import numpy as np

    data = TokenData(train=np.arange(500, dtype=np.uint16), val=np.arange(100, dtype=np.uint16))
    x, y = data.batch("train", 4, 8, torch.Generator().manual_seed(5))
    starts = torch.randint(500 - 8, (4,), generator=torch.Generator().manual_seed(5)).tolist()
    assert x.dtype == torch.int64 and x.tolist() == [list(range(s, s + 8)) for s in starts]
    assert y.tolist() == [list(range(s + 1, s + 9)) for s in starts]


def test_threads_option_and_loop_timings_are_logged(tmp_path: Path) -> None:
    before = torch.get_num_threads()
    try:
        result = train(tiny_config(tmp_path, max_iters=4, eval_interval=4, threads=1))
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)
    timing = result["timing_s"]
    assert set(timing) == {"data", "forward_backward", "optimizer", "eval", "checkpoint", "progress"}
    assert all(v >= 0 for v in timing.values()) and timing["forward_backward"] > 0
    assert result["tokens_per_s_median_step"] > 0 and result["loop_seconds"] > 0
