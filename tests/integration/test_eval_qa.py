"""`citegraph eval qa` end to end on a tiny SQuAD file the test writes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from citegraph.eval.qa import load_squad, token_f1

pytestmark = pytest.mark.integration

LIGHTHOUSE = (
    "Marta Vance kept the Hollowell lighthouse for thirty-one years. In the great storm of 1923 she rowed "
    "out alone and saved nine sailors from the wrecked schooner Pelican."
)
BRIDGE = (
    "The Kestrel bridge replaced the old ford at Dunmere. It opened in 1932 and was designed by the engineer "
    "Agnes Thorne."
)
SQUAD = {
    "version": "2.0",
    "data": [
        {
            "title": "Hollowell_Lighthouse",
            "paragraphs": [
                {
                    "context": LIGHTHOUSE,
                    "qas": [
                        {"id": "q1", "question": "Which schooner was wrecked in the storm of 1923?",
                         "answers": [{"text": "Pelican", "answer_start": 150}]},
                        {"id": "q2", "question": "What colour was the lighthouse keeper's cat?",
                         "answers": [], "is_impossible": True},
                    ],
                }
            ],
        },
        {
            "title": "Kestrel_Bridge",
            "paragraphs": [
                {
                    "context": BRIDGE,
                    "qas": [
                        {"id": "q3", "question": "Who designed the Kestrel bridge?",
                         "answers": [{"text": "Agnes Thorne", "answer_start": 101}]}
                    ],
                }
            ],
        },
    ],
}  # fmt: skip


def test_squad_reading_and_token_f1(tmp_path: Path) -> None:
    path = tmp_path / "tiny.json"
    path.write_text(json.dumps(SQUAD))
    data = load_squad(path)
    assert len(data.paragraphs) == 2 and [q.answers for q in data.questions][1] == ()
    assert token_f1("the engineer Agnes Thorne", "Agnes Thorne") == pytest.approx(0.8)
    assert token_f1("nothing", "Agnes Thorne") == 0.0


def test_eval_qa_cli_writes_every_metric(tmp_path: Path) -> None:
    path = tmp_path / "tiny.json"
    path.write_text(json.dumps(SQUAD))
    out = tmp_path / "qa.json"
    env = os.environ | {"XDG_CACHE_HOME": str(tmp_path / "cache")}
    done = subprocess.run(
        [sys.executable, "-m", "citegraph.cli", "eval", "qa", "--dataset", str(path), "--json", str(out)],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(out.read_text())
    assert set(result) >= {
        "dataset", "questions", "strategy", "hit_rate", "answer_recall", "f1", "citation_precision",
        "verified_share", "abstain_unanswerable", "abstain_answerable", "p50_ms", "p95_ms",
    }  # fmt: skip
    assert result["questions"] == 3 and result["strategy"] == "extract"
    # Both answerable questions are answered from their own paragraph, with verified citations.
    assert result["hit_rate"] == 1.0 and result["answer_recall"] == 1.0 and result["verified_share"] == 1.0
    assert result["abstain_answerable"] == 0.0
    # Without its own paragraph each answerable question has only the other, unrelated one left; the cat
    # question has no answer anywhere: all three abstain.
    assert result["abstain_unanswerable"] == 1.0

    missing = subprocess.run(
        [sys.executable, "-m", "citegraph.cli", "eval", "qa", "--dataset", str(tmp_path / "nope.json")],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert missing.returncode == 2 and "no SQuAD file" in missing.stderr
