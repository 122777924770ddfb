"""``citegraph eval retrieval`` end to end on a tiny BEIR folder written by the test."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from citegraph.cli import app

pytestmark = pytest.mark.integration

DOCS = {
    "d1": ("Kestrel bridge", "The Kestrel bridge opened in 1932; the engineer Agnes Thorne designed it."),
    "d2": (
        "Hollowell lighthouse",
        "Marta Vance kept the Hollowell lighthouse and saved nine sailors in 1923.",
    ),
    "d3": ("Quillon bakery", "Oskar Brell founded the Quillon bakery; its caraway rye proves for two days."),
    "d4": ("Pellam observatory", "Ilse Korda discovered the comet Korda-7 at the Pellam observatory."),
    "d5": ("River fords", "Drovers crossed the Dunmere ford with cattle for centuries before any bridge."),
}
QUERIES = {
    "q1": "Who designed the Kestrel bridge?",
    "q2": "Which comet was found at Pellam?",
    "q3": "Who rescued sailors from the storm?",
    "q4": "How long does the caraway rye take to prove?",
}
QRELS = {"q1": {"d1": 1}, "q2": {"d4": 1}, "q3": {"d2": 1}, "q4": {"d3": 1}}


def write_beir(folder: Path) -> Path:
    (folder / "qrels").mkdir(parents=True)
    with open(folder / "corpus.jsonl", "w") as f:
        for doc_id, (title, text) in DOCS.items():
            f.write(json.dumps({"_id": doc_id, "title": title, "text": text}) + "\n")
    with open(folder / "queries.jsonl", "w") as f:
        for qid, text in QUERIES.items():
            f.write(json.dumps({"_id": qid, "text": text}) + "\n")
    lines = ["query-id\tcorpus-id\tscore"] + [
        f"{q}\t{d}\t{g}" for q, rel in QRELS.items() for d, g in rel.items()
    ]
    (folder / "qrels" / "test.tsv").write_text("\n".join(lines) + "\n")
    return folder


def test_eval_retrieval_writes_every_system_and_reuses_its_cache(tmp_path: Path) -> None:
    dataset = write_beir(tmp_path / "tiny")
    out = tmp_path / "result.json"
    args = [
        "eval",
        "retrieval",
        "--dataset",
        str(dataset),
        "--json",
        str(out),
        "--cache-dir",
        str(tmp_path / "c"),
    ]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    data = json.loads(out.read_text())
    assert data["dataset"] == "tiny" and data["docs"] == 5 and data["queries"] == 4
    expected = {
        "citegraph",
        "bm25",
        "dense",
        "langchain_ensemble",
        "citegraph_no_multi_query",
        "citegraph_no_prf",
    }
    assert expected <= set(data["systems"])
    for name, metrics in data["systems"].items():
        assert set(metrics) == {"ndcg@10", "recall@10", "recall@100", "mrr@10", "p50_ms", "p95_ms"}, name
        assert 0 <= metrics["ndcg@10"] <= 1 and metrics["p95_ms"] >= metrics["p50_ms"] > 0
    assert data["systems"]["citegraph"]["mrr@10"] == 1.0  # every answer is the top document
    assert data["systems"]["citegraph"]["recall@100"] == 1.0
    stores = list((tmp_path / "c").iterdir())
    assert len(stores) == 1 and stores[0].name.startswith("tiny-")

    again = CliRunner().invoke(app, [*args, "--system", "bm25", "--limit", "2"])
    assert again.exit_code == 0 and "ingesting" not in again.output  # the cached store is reused
    assert set(json.loads(out.read_text())["systems"]) == {"bm25"}


def test_eval_retrieval_rejects_a_folder_that_is_not_beir(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["eval", "retrieval", "--dataset", str(tmp_path)])
    assert result.exit_code == 2 and "not a BEIR folder" in result.output
