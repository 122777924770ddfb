"""The `citegraph` command as a user runs it: real processes, real files, real Chroma."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import pytest

from citegraph.retrieval.manifest import Manifest
from tests.integration.corpus import write_corpus

pytestmark = pytest.mark.integration
ANSWER_KEYS = {"question", "answer", "citations", "abstained", "verified"}
CITATION_KEYS = {"n", "chunk_id", "source", "location", "quote", "start", "end"}


def citegraph(
    *args: str,
    store: Path,
    extra_env: dict[str, str] | None = None,
    timeout: float = 600,
    prefix: Sequence[str] = (),
) -> subprocess.CompletedProcess:
    env = os.environ | {"CITEGRAPH_STORE_DIR": str(store), "CITEGRAPH_CHUNK_SIZE": "300"} | (extra_env or {})
    return subprocess.run(
        [*prefix, sys.executable, "-m", "citegraph.cli", *args],
        env=env,
        stdin=subprocess.DEVNULL,  # `chat` would wait for a terminal
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def as_ordinary_user(tmp_path: Path) -> list[str]:
    """A command prefix that runs without root's power to read any file (chmod 000 binds root too)."""
    if os.geteuid() != 0:
        return []
    # setpriv drops the capabilities that let root ignore file permissions; the uid stays 0, so the
    # process still owns (and reads) the venv, the model and tmp_path.
    prefix = ["setpriv", "--bounding-set=-dac_override,-dac_read_search"]
    probe = tmp_path / "probe"
    probe.write_text("x")
    probe.chmod(0)
    try:
        blocked = subprocess.run([*prefix, "cat", str(probe)], capture_output=True).returncode != 0
    except FileNotFoundError:
        blocked = False
    probe.unlink()
    if not blocked:
        pytest.skip("running as root, and setpriv cannot drop the capabilities that bypass permissions")
    return prefix


def manifest_sources(store: Path) -> dict[str, tuple[str, float, int]]:
    """path -> (content hash, ingested_at, characters) of every source the store holds."""
    manifest = Manifest(store / "manifest.sqlite")
    try:
        lengths = manifest.text_lengths()
        return {s.path: (s.content_hash, s.ingested_at, lengths[s.source_id]) for s in manifest.sources()}
    finally:
        manifest.close()


def check_citations(answer: dict, store: Path) -> None:
    """Every quote is the cited source's text between start and end, and every marker is cited."""
    manifest = Manifest(store / "manifest.sqlite")
    texts = {s.path: manifest.source(s.source_id).text for s in manifest.sources()}  # type: ignore[union-attr]
    manifest.close()
    assert ANSWER_KEYS <= set(answer) <= ANSWER_KEYS | {"short_answer"}
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

    # An abstention says where the judge looked, numbered apart from citations (it cites nothing).
    shown = citegraph("ask", "What colour was the schooner Pelican painted?", store=store)
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.startswith("The documents do not say.\n\nClosest passages (not an answer):\n")
    assert "  1. lighthouse.txt, line 7: “In the great storm of 1923" in shown.stdout

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


def test_one_bad_named_path_does_not_stop_the_batch(tmp_path: Path) -> None:
    """Paths that once aborted the whole ingest with a traceback: each is now reported in one line by
    name, the good file goes in, and what the store held before is untouched."""
    store = tmp_path / "store"
    files = write_corpus(tmp_path / "docs")
    assert citegraph("ingest", str(files["bakery"]), store=store).returncode == 0
    before = manifest_sources(store)
    broken = tmp_path / "export.html"  # html.parser rejects the marked section: bs4 raised out of the batch
    broken.write_text("<p>Minutes of the harbour board.</p><![ if !supportLists ]><p>Item one.</p>")
    too_long = tmp_path / ("x" * 300 + ".md")  # stat() raises ENAMETOOLONG, not "no such file"
    latin = Path(os.fsdecode(bytes(tmp_path) + b"/caf\xe9.txt"))  # Latin-1: the store takes UTF-8 only
    latin.write_text("Notes from the cafe.")
    latin_shown = tmp_path / "caf\ufffd.txt"
    empty = tmp_path / "empty"  # a folder without one supported file used to pass unmentioned
    empty.mkdir()
    (empty / "slides.pptx").write_bytes(b"PK")

    done = citegraph(
        "ingest", str(files["lighthouse"]), str(broken), str(too_long), str(latin), str(empty), store=store
    )
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr
    errors = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert errors == [
        f"error: {too_long}: file name too long",
        f"error: {latin_shown}: the file name is not valid UTF-8 (rename the file)",
        f"error: {empty}: no supported files (.txt .md .pdf .html) in this folder",
        f"error: {broken}: malformed HTML the parser rejects (AssertionError: expected name token at "
        "'<![ if !supportLists')",
    ]
    assert "1 added" in done.stdout and "4 failed" in done.stdout
    after = manifest_sources(store)
    assert set(after) == {*before, str(files["lighthouse"])}
    assert after[str(files["bakery"])] == before[str(files["bakery"])]


def test_unreadable_named_files_are_reported_and_the_rest_ingested(tmp_path: Path) -> None:
    """As an ordinary user: click's own readable check once refused the whole command (exit 2, nothing
    ingested) for one unreadable path, and a file in a folder without search permission raised."""
    prefix = as_ordinary_user(tmp_path)
    store = tmp_path / "store"
    files = write_corpus(tmp_path / "docs")
    secret = tmp_path / "secret.md"
    secret.write_text("Nobody may read this.")
    locked = tmp_path / "locked"
    locked.mkdir()
    (locked / "inside.md").write_text("Behind a folder without search permission.")
    closed = tmp_path / "closed"  # a folder that cannot be listed is reported once, as that
    closed.mkdir()
    (closed / "hidden-away.md").write_text("In a folder nobody may list.")
    secret.chmod(0)
    locked.chmod(0o600)
    closed.chmod(0)
    try:
        done = citegraph(
            "ingest", str(files["lighthouse"]), str(secret), str(locked / "inside.md"), str(closed), "--json",
            store=store, prefix=prefix,
        )  # fmt: skip
    finally:
        closed.chmod(0o700)
        locked.chmod(0o700)
        secret.chmod(0o600)
    assert done.returncode == 1, done.stderr
    report = json.loads(done.stdout)
    assert sorted((Path(f["path"]).name, f["status"], f["reason"]) for f in report["files"]) == [
        ("closed", "failed", "cannot list: Permission denied"),
        ("inside.md", "failed", "permission denied"),
        ("lighthouse.txt", "added", ""),
        ("secret.md", "failed", "permission denied"),
    ]
    assert set(manifest_sources(store)) == {str(files["lighthouse"])}


def test_commands_that_read_a_store_refuse_one_that_does_not_exist(tmp_path: Path) -> None:
    """A mistyped --store once created an empty store and answered "The documents do not say."."""
    missing = tmp_path / "typo"
    expected = (
        f"error: no store at {missing} (nothing was ingested there); "
        f"add documents with: citegraph ingest --store {missing} FILE_OR_FOLDER..."
    )
    for command in (
        ["ask", "Who kept the lighthouse?"],
        ["ask", "--graph", "assistant", "What is 15% of 240?"],
        ["sources", "--json"],
        ["chat"],
        ["ingest", "--remove", str(tmp_path / "notes.md")],
    ):
        done = citegraph(*command, "--store", str(missing), store=tmp_path / "unused")
        assert (done.returncode, done.stderr.strip(), done.stdout) == (2, expected, ""), command
        assert not missing.exists() and not (tmp_path / "unused").exists()
    # Without --store the default (here CITEGRAPH_STORE_DIR) is named, and the hint needs no --store.
    default = citegraph("ask", "Who kept the lighthouse?", store=missing)
    assert default.returncode == 2 and not missing.exists()
    assert default.stderr.strip().endswith("add documents with: citegraph ingest FILE_OR_FOLDER...")


def test_bad_questions_and_a_store_without_documents(tmp_path: Path) -> None:
    store = tmp_path / "store"
    files = write_corpus(tmp_path / "docs")
    assert citegraph("ingest", str(files["bakery"]), store=store).returncode == 0
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
    # Once its last source is removed the store exists but holds nothing: asking says so, listing is empty.
    assert citegraph("ingest", "--remove", str(files["bakery"]), store=store).returncode == 0
    emptied = citegraph("ask", "Who bakes the caraway rye?", store=store)
    assert emptied.returncode == 2
    assert emptied.stderr.strip() == (
        f"error: the store at {store} holds no documents; "
        "add documents with: citegraph ingest FILE_OR_FOLDER..."
    )
    listed = citegraph("sources", "--json", store=store)
    assert listed.returncode == 0 and json.loads(listed.stdout) == []


def test_a_model_path_that_does_not_resolve_is_a_clear_error(tmp_path: Path) -> None:
    write_corpus(tmp_path / "docs")
    bad = citegraph(
        "ingest", str(tmp_path / "docs"), store=tmp_path / "store",
        extra_env={"CITEGRAPH_EMBEDDING_MODEL": str(tmp_path / "no-such-model")},
    )  # fmt: skip
    assert bad.returncode == 2
    assert "not a local sentence-transformers folder" in bad.stderr and "Traceback" not in bad.stderr


def test_an_answer_model_that_does_not_resolve_is_one_line(tmp_path: Path) -> None:
    """A missing scratch checkpoint, an unknown spec kind and a malformed spec each print one error line
    (no traceback) and exit 2, whichever layer raised them."""
    store = tmp_path / "store"
    write_corpus(tmp_path / "docs")
    assert citegraph("ingest", str(tmp_path / "docs"), store=store).returncode == 0
    cases = {
        f"scratch:{tmp_path / 'nope'}": "scratch model directory not found",
        "bogus:x": "model spec 'bogus:x' does not resolve",
        "hf:": "model spec 'hf:' does not resolve",
    }
    for spec, expected in cases.items():
        bad = citegraph("ask", "Who designed the Kestrel bridge?", "--strategy", "generate", "--model", spec,
                        store=store)  # fmt: skip
        assert bad.returncode == 2, bad.stderr
        lines = bad.stderr.strip().splitlines()
        assert len(lines) == 1 and expected in lines[0], bad.stderr


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


def test_a_pending_tool_approval_is_resumed_from_the_cli_and_never_approved_silently(tmp_path: Path) -> None:
    store = tmp_path / "store"
    files = write_corpus(tmp_path / "docs")
    assert citegraph("ingest", str(tmp_path / "docs"), store=store).returncode == 0
    asked = citegraph("ask", "--graph", "assistant", "--json", "Remove bakery.md", store=store)
    assert asked.returncode == 0, asked.stderr
    pending = json.loads(asked.stdout)
    assert pending["pending"]["type"] == "tool_approval" and pending["pending"]["tool"] == "remove_source"
    thread = pending["thread_id"]

    # No decision: refused in one line, and the thread still waits (nothing was approved for the user).
    silent = citegraph("resume", thread, store=store)
    assert silent.returncode == 2 and "--json" in silent.stderr and "Traceback" not in silent.stderr
    bad = citegraph("resume", thread, "--json", '{"action": "maybe"}', store=store)
    assert bad.returncode == 2 and "Traceback" not in bad.stderr, bad.stderr
    listed = json.loads(citegraph("sources", "--json", store=store).stdout)
    assert any(s["source"].endswith("bakery.md") for s in listed)

    done = citegraph("resume", thread, "--json", '{"action": "approve"}', store=store)
    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout)
    assert answer["steps"] == [{"tool": "remove_source", "args": {"source": "bakery.md"}, "ok": True}]
    listed = json.loads(citegraph("sources", "--json", store=store).stdout)
    assert str(files["bakery"]) not in {s["source"] for s in listed}
    again = citegraph("resume", thread, "--json", '{"action": "approve"}', store=store)
    assert again.returncode == 2 and "not waiting" in again.stderr
