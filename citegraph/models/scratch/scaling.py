"""Scaling-study pieces: one fixed-budget training run of the scratch GPT, and power-law fits.

``benchmarks/scaling.py`` trains a grid of model sizes x training-set sizes with :func:`train_run` and fits
the val losses with :func:`fit_power_law` and :func:`loglog_slope`; they live here so they are tested.
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import torch

from citegraph.models.scratch.data import TokenData
from citegraph.models.scratch.evaluate import score_tokens
from citegraph.models.scratch.model import GPT, GPTConfig
from citegraph.models.scratch.train import TrainConfig, lr_at


@dataclass
class PowerLawFit:
    """``L(x) = a * x**-alpha + c``; ``rmse_log`` is the root-mean-square error in log L."""

    a: float
    alpha: float
    c: float
    rmse_log: float

    def predict(self, x: np.ndarray | float) -> np.ndarray:
        """The fitted loss at ``x``."""
        return self.a * np.asarray(x, dtype=float) ** -self.alpha + self.c

    def to_dict(self) -> dict[str, float]:
        """Plain floats, for JSON."""
        return {k: float(v) for k, v in asdict(self).items()}


def loglog_slope(x: np.ndarray | list[float], y: np.ndarray | list[float]) -> tuple[float, float]:
    """(slope, intercept) of the least-squares line through (log x, log y): ``y ~ e**intercept * x**slope``.

    The plain power law without an irreducible term; its exponent is ``-slope``.
    """
    lx, ly = np.log(np.asarray(x, dtype=float)), np.log(np.asarray(y, dtype=float))
    if lx.size < 2 or np.ptp(lx) == 0:
        raise ValueError("need at least two distinct x values")
    slope, intercept = np.polyfit(lx, ly, 1)
    return float(slope), float(intercept)


def fit_power_law(x: np.ndarray | list[float], y: np.ndarray | list[float], grid: int = 400) -> PowerLawFit:
    """Fit ``y = a * x**-alpha + c`` (c >= 0, the irreducible loss) by least squares in log y.

    For each candidate ``c`` on a grid in [0, min(y)), ``a`` and ``alpha`` come from the straight-line fit of
    log(y - c) on log x; the ``c`` kept is the one whose curve has the smallest squared error in log y (a
    relative error, so the small losses of large models weigh as much as the large ones). Needs at least
    three points; with exactly three the curve passes through them and says little.
    """
    xs, ys = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    if xs.size < 3 or xs.size != ys.size:
        raise ValueError("need at least three (x, y) points of equal count")
    if (xs <= 0).any() or (ys <= 0).any():
        raise ValueError("x and y must be positive")
    best: PowerLawFit | None = None
    for c in np.linspace(0.0, ys.min(), grid, endpoint=False):
        slope, intercept = loglog_slope(xs, ys - c)
        if slope >= 0:  # not a decreasing law: the loss would grow with x
            continue
        fit = PowerLawFit(a=math.exp(intercept), alpha=-slope, c=float(c), rmse_log=0.0)
        fit.rmse_log = float(np.sqrt(np.mean((np.log(fit.predict(xs)) - np.log(ys)) ** 2)))
        if best is None or fit.rmse_log < best.rmse_log:
            best = fit
    if best is None:
        raise ValueError("the losses do not decrease with x; no power law to fit")
    return best


def train_run(
    data: TokenData,
    model_config: GPTConfig,
    steps: int,
    batch_size: int = 16,
    lr: float = 2e-3,
    seed: int = 1337,
    eval_every: int = 0,
    eval_tokens: int = 16384,
) -> dict[str, Any]:
    """Train a fresh GPT on ``data.train`` for ``steps`` AdamW steps; return its exact val loss and figures.

    The scratch trainer's recipe (warmup over a tenth of the steps, cosine decay to lr/10, weight decay 0.1
    on matrices, clipping at 1.0). ``val_loss`` is exact over all of ``data.val`` in non-overlapping windows;
    every ``eval_every`` steps (and at the end) the loss on the first ``eval_tokens`` val tokens is logged
    as a curve of loss against tokens seen.
    """
    block = model_config.block_size
    data.check(block)
    torch.manual_seed(seed)
    model = GPT(model_config)
    opt = torch.optim.AdamW(model.optimizer_groups(0.1), lr=lr, betas=(0.9, 0.99), fused=True)
    sched = TrainConfig(max_iters=steps, lr=lr, min_lr=lr / 10, warmup_iters=max(1, steps // 10))
    gen = torch.Generator().manual_seed(seed)
    curve: list[dict[str, float]] = []
    step_time, train_loss = 0.0, math.nan
    for step in range(steps):
        t0 = time.perf_counter()
        for group in opt.param_groups:
            group["lr"] = lr_at(step, sched)
        x, y = data.batch("train", batch_size, block, gen)
        _, loss = model(x, y)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
        train_loss = loss.item()
        step_time += time.perf_counter() - t0
        if eval_every and (step + 1) % eval_every == 0 and step + 1 < steps:
            curve.append(
                {
                    "step": step + 1,
                    "tokens": (step + 1) * batch_size * block,
                    "val": round(score_tokens(model, data.val[:eval_tokens]).loss, 4),
                }
            )
            model.train()
    if eval_every:
        last = score_tokens(model, data.val[:eval_tokens]).loss
        curve.append({"step": steps, "tokens": steps * batch_size * block, "val": round(last, 4)})
    val = score_tokens(model, data.val).loss
    tokens = steps * batch_size * block
    return {
        "params": model.num_params(),
        "train_tokens_available": len(data.train),
        "tokens_seen": tokens,
        "epochs": round(tokens / len(data.train), 2),
        "train_loss": round(train_loss, 4),
        "val_loss": round(val, 4),
        "train_s": round(step_time, 1),
        "tokens_per_s": round(tokens / step_time, 1) if step_time else None,
        "curve": curve,
    }
