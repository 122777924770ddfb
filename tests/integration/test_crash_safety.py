"""A failed or killed ingest leaves Chroma and BM25 consistent: the old state or the new, never a mix."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
from pathlib import Path

import pytest

import citegraph.retrieval.store as store_module
from citegraph.ingest.loaders import load_document
from citegraph.ingest.pipeline import chunk_document, ingest_paths, source_key
from tests.integration.corpus import write_corpus
from tests.integration.test_store import assert_consistent

pytestmark = pytest.mark.integration

WORDS = "river stone lantern harbour copper meadow falcon winter ledger orchard velvet signal".split()


def write_book(path: Path, paragraphs: int, seed: int) -> Path:
    rng = random.Random(seed)
    text = "\n\n".join(
        " ".join(" ".join(rng.choices(WORDS, k=rng.randint(6, 14))).capitalize() + "." for _ in range(4))
        for _ in range(paragraphs)
    )
    path.write_text(f"Book {seed}\n\n{text}\n", encoding="utf-8")
    return path


class Boom(RuntimeError):
    pass


@pytest.mark.parametrize("stage", ["embedding", "bm25", "manifest"])
def test_an_exception_mid_ingest_leaves_the_old_state(
    tmp_path, settings, make_store, monkeypatch, stage
) -> None:
    files = write_corpus(tmp_path / "docs")
    store = make_store()
    ingest_paths(store, [tmp_path / "docs"], settings)
    old = assert_consistent(store)
    old_sources = store.manifest.source_hashes()

    files["lighthouse"].write_text(
        files["lighthouse"].read_text() + "\nA new closing paragraph about gulls.\n"
    )
    write_book(tmp_path / "docs" / "book.txt", paragraphs=20, seed=1)
    monkeypatch.setattr(store_module, "_EMBED_BATCH", 4)
    if stage == "embedding":
        calls = iter(range(100))
        real = store.embedder.embed_documents

        def flaky(texts: list[str]):
            if next(calls) == 2:
                raise Boom("embedding died")
            return real(texts)

        monkeypatch.setattr(store.embedder, "embed_documents", flaky)
    elif stage == "bm25":
        monkeypatch.setattr(
            store_module.Bm25Index, "save", lambda *a: (_ for _ in ()).throw(Boom("disk full"))
        )
    else:
        monkeypatch.setattr(
            store.manifest, "replace_sources", lambda *a: (_ for _ in ()).throw(Boom("db locked"))
        )

    with pytest.raises(Boom):
        ingest_paths(store, [tmp_path / "docs"], settings)
    monkeypatch.undo()

    reopened = make_store()  # a new process would do the same: reconcile on open
    assert assert_consistent(reopened) == old
    assert reopened.manifest.source_hashes() == old_sources
    assert "gulls" not in " ".join(h.text for h in reopened.search_bm25("gulls", 5))
    # and the next ingest goes through
    report = ingest_paths(reopened, [tmp_path / "docs"], settings)
    assert report.ok and report.count("replaced") == 1 and report.count("added") == 1
    assert "gulls" in reopened.search_bm25("gulls closing paragraph", 1)[0].text
    assert_consistent(reopened)


def test_a_crash_in_the_very_first_ingest_leaves_an_empty_store(
    tmp_path, settings, make_store, monkeypatch
) -> None:
    write_book(tmp_path / "book.txt", paragraphs=20, seed=3)
    store = make_store()
    monkeypatch.setattr(store_module, "_EMBED_BATCH", 4)
    monkeypatch.setattr(store_module.Bm25Index, "save", lambda *a: (_ for _ in ()).throw(Boom("disk full")))
    with pytest.raises(Boom):
        ingest_paths(store, [tmp_path / "book.txt"], settings)
    monkeypatch.undo()
    assert store.collection.count() > 0  # vectors were written before the crash ...
    reopened = make_store()
    assert assert_consistent(reopened) == set() and reopened.is_empty()  # ... and are gone after reopening


def test_a_failure_after_the_commit_point_leaves_the_new_state(
    tmp_path, settings, make_store, monkeypatch
) -> None:
    files = write_corpus(tmp_path / "docs")
    store = make_store()
    ingest_paths(store, [tmp_path / "docs"], settings)
    files["bakery"].write_text(files["bakery"].read_text().replace("rye", "spelt"))
    monkeypatch.setattr(store, "_chroma_delete", lambda ids: (_ for _ in ()).throw(Boom("crash in cleanup")))
    with pytest.raises(Boom):
        ingest_paths(store, [files["bakery"]], settings)
    monkeypatch.undo()
    reopened = make_store()
    ids = assert_consistent(reopened)  # the stale vectors of the old bakery chunks are gone
    assert all("rye" not in c.text for c in reopened.manifest.chunks(ids))
    assert "spelt" in reopened.search_bm25("spelt bread", 1)[0].text


STATE_SCRIPT = """
import json, sys
from citegraph.retrieval.store import HybridStore
from citegraph.settings import Settings
store = HybridStore(Settings())
print(json.dumps({
    "manifest": sorted(store.manifest.chunk_ids()),
    "chroma": sorted(store.collection.get(include=[])["ids"]),
    "bm25": sorted(store._bm25.ids),
}))
"""


def run_cli(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "citegraph.cli", *args], env=env, capture_output=True, text=True, timeout=300
    )


@pytest.mark.parametrize("kill_after", ["embedding 256/", "indexing 0/1"])
def test_kill_9_during_a_real_ingest_process(tmp_path: Path, kill_after: str) -> None:
    """Start `citegraph ingest` as its own process, SIGKILL it mid-way, open the store again."""
    from citegraph.settings import Settings

    store_dir = tmp_path / "store"
    env = os.environ | {
        "CITEGRAPH_STORE_DIR": str(store_dir),
        "CITEGRAPH_CHUNK_SIZE": "200",
        "CITEGRAPH_CHUNK_OVERLAP": "0",
    }
    first = tmp_path / "first"
    first.mkdir()
    write_book(first / "first.txt", paragraphs=5, seed=0)
    done = run_cli(["ingest", str(first)], env)
    assert done.returncode == 0, done.stderr

    def state() -> dict[str, list[str]]:
        out = subprocess.run(
            [sys.executable, "-c", STATE_SCRIPT], env=env, capture_output=True, text=True, timeout=300
        )
        assert out.returncode == 0, out.stderr
        return json.loads(out.stdout)

    old = state()
    assert old["manifest"] == old["chroma"] == old["bm25"] and old["manifest"]

    second = tmp_path / "second"
    second.mkdir()
    books = [write_book(second / f"book{i}.txt", paragraphs=160, seed=i) for i in range(1, 4)]
    settings = Settings(store_dir=store_dir, chunk_size=200, chunk_overlap=0)
    new_ids = set(old["manifest"])
    for book in books:
        doc = load_document(book, 10**7)
        new_ids |= {c.chunk_id for c in chunk_document(doc, source_key(book), settings)}
    assert len(new_ids) - len(old["manifest"]) > 512  # enough work to be killed in the middle of

    proc = subprocess.Popen(
        [sys.executable, "-m", "citegraph.cli", "ingest", str(second)],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    seen = []
    assert proc.stderr is not None
    for line in proc.stderr:
        seen.append(line)
        if line.startswith(kill_after):
            os.kill(proc.pid, signal.SIGKILL)
            break
    proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL, "".join(seen)

    after = state()
    assert after["manifest"] == after["chroma"] == after["bm25"]
    assert set(after["manifest"]) in (set(old["manifest"]), new_ids)
    if kill_after.startswith("embedding"):  # killed long before the commit point
        assert after["manifest"] == old["manifest"]
    # Ingesting again completes the job.
    again = run_cli(["ingest", str(second)], env)
    assert again.returncode == 0, again.stderr
    final = state()
    assert final["manifest"] == final["chroma"] == final["bm25"] and set(final["manifest"]) == new_ids
