"""The judge's listwise stage end to end with a tiny random judge: shortlists built by CiteGraph's own
retrieval and answer step over written questions, a few steps, the judge and its log saved."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from citegraph.models.judge.data import Collection, QAItem
from citegraph.models.judge.listwise import shortlists, train_listwise
from citegraph.models.judge.model import JudgeConfig, from_base, load_judge, save_judge
from citegraph.models.judge.train import JudgeTraining

MANUAL = """# Workers

## Restarting

Workers can be restarted one at a time. To restart a worker, send it the HUP signal and wait for the
socket to close. The master keeps the listening socket open, so no request is refused meanwhile.

## Limits

A worker serves at most 1000 requests before it is replaced, a guard against memory leaks. The number
can be changed with the max-requests setting in the configuration file.

## Logging

Each worker writes its log to the file named by the log-file setting. Logs are rotated daily at midnight.
"""

QUESTIONS = [
    {"doc": "manual.md", "question": "How do I restart a worker?", "sentence": "To restart a worker, "
     "send it the HUP signal and wait for the socket to close.", "short": "send it the HUP signal"},
    {"doc": "manual.md", "question": "How many requests does a worker serve before it is replaced?",
     "sentence": "A worker serves at most 1000 requests before it is replaced, a guard against memory leaks.",
     "short": "at most 1000 requests"},
    {"doc": "manual.md", "question": "When are the logs rotated?",
     "sentence": "Logs are rotated daily at midnight.", "short": "daily at midnight"},
    {"doc": "manual.md", "question": "How much memory may a worker use?", "unanswerable": True,
     "near": "a guard against memory leaks"},
]  # fmt: skip


@pytest.fixture
def written(tmp_path: Path) -> Path:
    folder = tmp_path / "written"
    (folder / "docs").mkdir(parents=True)
    (folder / "docs" / "manual.md").write_text(MANUAL)
    (folder / "questions.jsonl").write_text("".join(json.dumps(q) + "\n" for q in QUESTIONS))
    return folder


@pytest.fixture
def init(tmp_path: Path, tiny_base: Path) -> Path:
    """A tiny random judge saved where ``--init`` reads one."""
    folder = tmp_path / "init"
    save_judge(from_base(JudgeConfig(layers=1), tiny_base), folder)
    return folder


def test_shortlists_are_the_answer_steps_with_the_answering_sentences_marked(written: Path) -> None:
    found = shortlists(written)
    assert len(found) == 4
    memory = next(s for s in found if s.question == "How much memory may a worker use?")
    assert memory.unanswerable and not any(memory.answers) and memory.sentences
    restart = next(s for s in found if s.question == "How do I restart a worker?")
    marked = [t for t, a in zip(restart.sentences, restart.answers, strict=True) if a]
    assert marked == ["To restart a worker, send it the HUP signal and wait for the\nsocket to close."]
    assert len(restart.sentences) == len(restart.previous) == len(restart.closeness) > 1


def test_train_listwise_goes_on_from_a_judge_and_saves_it(
    written: Path, init: Path, tmp_path: Path, tiny_base: Path
) -> None:
    before = load_judge(init, tiny_base).state_dict()
    settings = JudgeTraining(steps=3, batch_size=2, learning_rate=1e-3, base=tiny_base, init=init)
    result = train_listwise(written, tmp_path / "run", settings, verbose=False)
    for name in ("judge.safetensors", "judge.json", "log.json", "loss.png"):
        assert (tmp_path / "run" / name).is_file(), name
    assert result["data"]["shortlists"] == 4 and len(result["history"]["train"]) == 3
    after = load_judge(tmp_path / "run", tiny_base).state_dict()
    assert not torch.equal(after["heads.answer.weight"], before["heads.answer.weight"])
    with pytest.raises(ValueError, match="--init"):
        train_listwise(written, tmp_path / "x", JudgeTraining(steps=1, base=tiny_base), verbose=False)
    with pytest.raises(FileNotFoundError, match=r"questions\.jsonl"):
        train_listwise(init, tmp_path / "x", settings, verbose=False)


def test_train_listwise_rehearses_the_stage_befores_examples(
    written: Path, init: Path, tmp_path: Path, tiny_base: Path
) -> None:
    before = load_judge(init, tiny_base).state_dict()
    context = "Adler sang at La Scala. She was born in New Jersey. She retired in 1886."
    rehearsal = Collection(
        qa=[QAItem("squadlike", f"Where was Adler born? ({i})", context, [(40, 50)]) for i in range(40)]
        + [QAItem("squadlike", f"Who built La Scala? ({i})", context) for i in range(40)]
    )
    # Only the answerable head learns from this rehearsal: its examples, not the lists, moved it.
    settings = JudgeTraining(
        steps=3, batch_size=2, learning_rate=1e-3, base=tiny_base, init=init, mix={"answerable": 1.0}
    )
    result = train_listwise(written, tmp_path / "run", settings, rehearsal, verbose=False)
    assert result["data"]["squadlike"] == 80 and result["rehearsed"]["answerable"] > 0
    after = load_judge(tmp_path / "run", tiny_base).state_dict()
    assert not torch.equal(after["heads.answerable.weight"], before["heads.answerable.weight"])
    plain = train_listwise(written, tmp_path / "plain", settings, verbose=False)
    assert "squadlike" not in plain["data"]
    untouched = load_judge(tmp_path / "plain", tiny_base).state_dict()
    assert torch.equal(untouched["heads.answerable.weight"], before["heads.answerable.weight"])


def test_an_empty_rehearsal_is_refused_before_the_shortlists(
    written: Path, init: Path, tmp_path: Path, tiny_base: Path
) -> None:
    settings = JudgeTraining(steps=1, batch_size=2, base=tiny_base, init=init)
    with pytest.raises(ValueError, match="no training examples to rehearse"):
        train_listwise(written, tmp_path / "run", settings, Collection(), verbose=False)
    assert not (tmp_path / "run").exists()
