"""The `citegraph` command as a user runs it: real processes, real files, real Chroma."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from citegraph.retrieval.manifest import Manifest
from tests.integration.corpus import write_corpus

pytestmark = pytest.mark.integration
ANSWER_KEYS = {"question", "answer", "citations", "abstained", "verified"}
CITATION_KEYS = {"n", "chunk_id", "source", "location", "quote", "start", "end"}


def citegraph(
    *args: str, store: Path, extra_env: dict[str, str] | None = None, timeout: float = 600
) -> subprocess.CompletedProcess:
    env = os.environ | {"CITEGRAPH_STORE_DIR": str(store), "CITEGRAPH_CHUNK_SIZE": "300"} | (extra_env or {})
    return subprocess.run(
        [sys.executable, "-m", "citegraph.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def check_citations(answer: dict, store: Path) -> None:
    """Every quote is the cited source's text between start and end, and every marker is cited."""
    manifest = Manifest(store / "manifest.sqlite")
    texts = {s.path: manifest.source(s.source_id).text for s in manifest.sources()}  # type: ignore[union-attr]
    manifest.close()
    assert set(answer) == ANSWER_KEYS
    for n, citation in enumerate(answer["citations"], start=1):
        assert set(citation) == CITATION_KEYS and citation["n"] == n
        assert texts[citation["source"]][citation["start"] : citation["end"]] == citation["quote"]
        assert f"[{n}]" in answer["answer"]


def test_ingest_ask_sources_and_remove(tmp_path: Path) -> None:
    store = tmp_path / "store"
    files = write_corpus(tmp_path / "docs")
    done = citegraph("ingest", str(tmp_path / "docs"), "--json", store=store)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["ok"] and {f["status"] for f in report["files"]} == {"added"}

    asked = citegraph("ask", "Who designed the Kestrel bridge?", "--json", store=store)
    assert asked.returncode == 0, asked.stderr
    answer = json.loads(asked.stdout)
    assert not answer["abstained"] and "Kestrel bridge" in answer["answer"]
    check_citations(answer, store)
    first = answer["citations"][0]
    assert first["source"].endswith("bridge.pdf") and first["location"] == "p. 2"

    listed = json.loads(citegraph("sources", "--json", store=store).stdout)
    assert {Path(s["source"]).name for s in listed} == {
        "lighthouse.txt",
        "bakery.md",
        "observatory.html",
        "bridge.pdf",
    }

    removed = citegraph("ingest", "--remove", str(files["bridge"]), "--json", store=store)
    assert removed.returncode == 0 and json.loads(removed.stdout)["files"][0]["status"] == "removed"
    answer = json.loads(citegraph("ask", "Who designed the Kestrel bridge?", "--json", store=store).stdout)
    assert all(not c["source"].endswith("bridge.pdf") for c in answer["citations"])


def test_a_batch_with_bad_files_exits_non_zero_and_names_them(tmp_path: Path) -> None:
    store = tmp_path / "store"
    docs = tmp_path / "docs"
    write_corpus(docs)
    (docs / "empty.md").write_text("")
    done = citegraph("ingest", str(docs), str(tmp_path / "missing.pdf"), store=store)
    assert done.returncode == 1
    assert f"error: {docs / 'empty.md'}: empty file" in done.stderr
    assert f"error: {tmp_path / 'missing.pdf'}: no such file or directory" in done.stderr
    assert "4 added" in done.stdout


def test_bad_questions_and_an_empty_store(tmp_path: Path) -> None:
    store = tmp_path / "store"
    empty = citegraph("ask", "   \t ", store=store)
    assert empty.returncode == 2 and "the question is empty" in empty.stderr
    huge = citegraph("ask", "why " * 1000, store=store)
    assert huge.returncode == 2 and "limit is 2000" in huge.stderr
    nothing = citegraph("ask", "Who kept the lighthouse?", "--json", store=store)
    assert nothing.returncode == 0, nothing.stderr
    assert json.loads(nothing.stdout) == {
        "question": "Who kept the lighthouse?",
        "answer": "The documents do not say.",
        "citations": [],
        "abstained": True,
        "verified": False,
    }


def test_a_model_path_that_does_not_resolve_is_a_clear_error(tmp_path: Path) -> None:
    write_corpus(tmp_path / "docs")
    bad = citegraph(
        "ingest", str(tmp_path / "docs"), store=tmp_path / "store",
        extra_env={"CITEGRAPH_EMBEDDING_MODEL": str(tmp_path / "no-such-model")},
    )  # fmt: skip
    assert bad.returncode == 2
    assert "not a local sentence-transformers folder" in bad.stderr and "Traceback" not in bad.stderr


@pytest.mark.timeout(1800)  # embeds two books: ~1 min on 2 idle cores, much longer on a busy machine
def test_demo_answers_from_the_bundled_corpus(tmp_path: Path) -> None:
    """The README's main job: ingest the demo corpus into an empty store and print a cited answer."""
    store = tmp_path / "store"
    env = {"CITEGRAPH_CHUNK_SIZE": "800"}
    demo = citegraph("demo", store=store, extra_env=env, timeout=1700)
    assert demo.returncode == 0, demo.stderr
    assert (
        "Irene Adler" in demo.stdout
        and "[1]" in demo.stdout
        and "adventures_of_sherlock_holmes.txt" in demo.stdout
    )
    answer = json.loads(citegraph("ask", "Who is Irene Adler?", "--json", store=store, extra_env=env).stdout)
    check_citations(answer, store)
    again = citegraph("demo", store=store, extra_env=env)  # second run: no re-ingest
    assert again.returncode == 0 and "Ingesting" not in again.stderr


def test_ask_with_the_assistant_graph_reports_its_steps(tmp_path: Path) -> None:
    store = tmp_path / "store"
    write_corpus(tmp_path / "docs")
    assert citegraph("ingest", str(tmp_path / "docs"), store=store).returncode == 0
    asked = citegraph(
        "ask",
        "--graph",
        "assistant",
        "--json",
        "What is 15% of 240, and who saved nine sailors?",
        store=store,
    )
    assert asked.returncode == 0, asked.stderr
    answer = json.loads(asked.stdout)
    assert [s["tool"] for s in answer["steps"]] == ["calculator", "cited_answer"]
    assert all(s["ok"] for s in answer["steps"]) and "36" in answer["answer"]
    assert {c["source"] for c in answer["citations"]} >= {"tool:calculator"}
    assert any(c["source"].endswith("lighthouse.txt") for c in answer["citations"])
