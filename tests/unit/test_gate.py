"""The abstention gate's network: its arithmetic, its JSON, and the shipped one's shape."""

from __future__ import annotations

import json

import numpy as np
import pytest

from citegraph.agents.answerer import GATE_SIGNALS
from citegraph.models.judge.gate import GATE_PATH, AbstentionGate, shipped_gate


def _gate(threshold: float = 0.0) -> AbstentionGate:
    rng = np.random.default_rng(0)
    return AbstentionGate(
        signals=("closeness", "answer"),
        mean=np.array([0.5, 0.3]),
        scale=np.array([0.2, 0.1]),
        hidden=rng.normal(size=(2, 3)),
        hidden_bias=rng.normal(size=3),
        output=rng.normal(size=3),
        output_bias=0.25,
        threshold=threshold,
    )


def test_the_gate_is_a_relu_layer_over_standardised_signals() -> None:
    gate = _gate()
    values = {"closeness": 0.9, "answer": 0.1, "unread": 5.0}
    x = (np.array([0.9, 0.1]) - gate.mean) / gate.scale
    hidden = np.maximum(x @ gate.hidden + gate.hidden_bias, 0.0)
    assert gate.log_odds(values) == pytest.approx(float(hidden @ gate.output + 0.25))
    log_odds = gate.log_odds(values)
    assert _gate(log_odds - 1e-9).answers(values) and not _gate(log_odds + 1e-9).answers(values)


def test_a_gate_survives_its_json() -> None:
    gate = _gate(0.7)
    again = AbstentionGate.from_json(json.loads(json.dumps(gate.to_json())))
    values = {"closeness": 0.4, "answer": 0.6}
    assert again.signals == gate.signals and again.threshold == 0.7
    assert again.log_odds(values) == pytest.approx(gate.log_odds(values))


def test_a_missing_signal_is_an_error_not_a_silent_zero() -> None:
    with pytest.raises(KeyError):
        _gate().log_odds({"closeness": 0.9})


def test_the_shipped_gate_reads_what_the_answer_step_gives_it() -> None:
    gate = shipped_gate()
    assert gate.signals == GATE_SIGNALS
    assert (
        gate.hidden.shape
        == (len(GATE_SIGNALS), gate.output.shape[0])
        == (len(GATE_SIGNALS), len(gate.hidden_bias))
    )
    fitted = json.loads(GATE_PATH.read_text(encoding="utf-8"))["fitted"]
    assert "squad" in fitted["data"].lower() and fitted["cross_validated"]["abstain_answerable"] <= 0.1
