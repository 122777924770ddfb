"""The scaling study's pieces at toy size: the power-law fits recover known exponents, one tiny run trains."""

from __future__ import annotations

import math

import numpy as np
import pytest

from citegraph.models.scratch.data import TokenData
from citegraph.models.scratch.model import GPTConfig
from citegraph.models.scratch.scaling import PowerLawFit, fit_power_law, loglog_slope, train_run

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_loglog_slope_of_a_pure_power_law() -> None:
    x = np.array([1e3, 1e4, 1e5, 1e6])
    slope, intercept = loglog_slope(x, 7.0 * x**-0.25)
    assert slope == pytest.approx(-0.25) and math.exp(intercept) == pytest.approx(7.0)


def test_fit_power_law_recovers_exponent_and_floor() -> None:
    n = np.geomspace(4e3, 8e5, 6)
    truth = PowerLawFit(a=30.0, alpha=0.3, c=1.2, rmse_log=0.0)
    fit = fit_power_law(n, truth.predict(n), grid=2000)
    assert fit.alpha == pytest.approx(0.3, abs=0.01)
    assert fit.c == pytest.approx(1.2, abs=0.01)
    assert fit.rmse_log < 1e-3
    assert set(fit.to_dict()) == {"a", "alpha", "c", "rmse_log"}


def test_fits_refuse_what_they_cannot_fit() -> None:
    with pytest.raises(ValueError, match="three"):
        fit_power_law([1, 2], [3, 2])
    with pytest.raises(ValueError, match="do not decrease"):
        fit_power_law([1, 2, 3], [1, 2, 3])
    with pytest.raises(ValueError, match="distinct"):
        loglog_slope([2, 2], [1, 3])


def test_one_tiny_run_is_deterministic() -> None:
    rng = np.random.default_rng(0)
    text = np.tile(rng.integers(0, 12, 40), 30).astype(np.int64)  # a repeated 40-token pattern
    data = TokenData(train=text[:1000], val=text[1000:])
    cfg = GPTConfig(vocab_size=12, block_size=16, n_layer=1, n_head=2, n_embd=16)
    first = train_run(data, cfg, steps=6, batch_size=4, eval_every=3, eval_tokens=64)
    second = train_run(data, cfg, steps=6, batch_size=4, eval_every=3, eval_tokens=64)
    assert first["val_loss"] == second["val_loss"] and math.isfinite(first["val_loss"])
    assert first["val_loss"] < math.log(12)  # below a uniform guess after six steps on a repeated pattern
    assert [p["step"] for p in first["curve"]] == [3, 6]
    assert first["tokens_seen"] == 6 * 4 * 16 and first["params"] > 0
