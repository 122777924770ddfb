"""The extract answer's abstention gate: whether the best retrieved sentences answer the question at all.

A one-hidden-layer network over a few numbers the answer step already has (``answerer.gate_signals``: the
judge's answer score, the bi-encoder closeness, how much of the question the passages hold), fitted on
SQuAD v1.1 *train* questions asked with their paragraph in the store and with it removed
(``benchmarks/answerable_gate_choose.py``, which writes ``weights/gate.json``). A logistic regression over
four of those signals did this before; the network reads interactions a weighted sum cannot (a passage
holding every term of the question while the judge finds no answer in it says something else than either
alone). Five such networks from different seeds are averaged, which is itself one network with their
hidden units side by side.

The weights are a few hundred numbers in JSON, evaluated with numpy.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np

GATE_PATH = Path(__file__).parent / "weights" / "gate.json"


@dataclass(frozen=True)
class AbstentionGate:
    """``signals`` standardised (``mean``, ``scale``), a ReLU layer (``hidden``, ``hidden_bias``), one
    output unit (``output``, ``output_bias``): its log-odds that the sentences answer, compared with
    ``threshold`` (set so that the gate abstains on at most a chosen share of answerable questions)."""

    signals: tuple[str, ...]
    mean: np.ndarray
    scale: np.ndarray
    hidden: np.ndarray  # (signals, units)
    hidden_bias: np.ndarray
    output: np.ndarray  # (units,)
    output_bias: float
    threshold: float

    def log_odds(self, values: Mapping[str, float]) -> float:
        """The network's log-odds that the sentences these signal ``values`` describe answer."""
        return float(self.log_odds_of(np.array([values[s] for s in self.signals], dtype=float)))

    def log_odds_of(self, x: np.ndarray) -> np.ndarray:
        """``log_odds`` of signal values in ``signals`` order: one vector, or a matrix of one per row."""
        z = (x - self.mean) / self.scale
        return np.maximum(z @ self.hidden + self.hidden_bias, 0.0) @ self.output + self.output_bias

    def answers(self, values: Mapping[str, float]) -> bool:
        """Whether the gate lets the sentences answer (log-odds at least ``threshold``)."""
        return self.log_odds(values) >= self.threshold

    def to_json(self) -> dict[str, Any]:
        """The gate as plain JSON (what ``weights/gate.json`` holds)."""
        return {
            "signals": list(self.signals),
            "mean": self.mean.tolist(),
            "scale": self.scale.tolist(),
            "hidden": self.hidden.tolist(),
            "hidden_bias": self.hidden_bias.tolist(),
            "output": self.output.tolist(),
            "output_bias": self.output_bias,
            "threshold": self.threshold,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> AbstentionGate:
        """The gate ``to_json`` wrote."""
        return cls(
            signals=tuple(data["signals"]),
            mean=np.asarray(data["mean"], dtype=float),
            scale=np.asarray(data["scale"], dtype=float),
            hidden=np.asarray(data["hidden"], dtype=float),
            hidden_bias=np.asarray(data["hidden_bias"], dtype=float),
            output=np.asarray(data["output"], dtype=float),
            output_bias=float(data["output_bias"]),
            threshold=float(data["threshold"]),
        )


@cache
def shipped_gate() -> AbstentionGate:
    """The gate shipped beside the judge's weights (``weights/gate.json``), read once."""
    return AbstentionGate.from_json(json.loads(GATE_PATH.read_text(encoding="utf-8"))["gate"])
