"""Whether a store exists and holds documents, found out without creating it (read-only commands and
``serve`` use it before anything opens the store)."""

from __future__ import annotations

from pathlib import Path

import pytest

from citegraph.ingest.pipeline import stored_sources
from citegraph.retrieval.manifest import Manifest, SourceRecord


def test_stored_sources_creates_nothing(tmp_path: Path) -> None:
    missing = tmp_path / "typo"
    assert stored_sources(missing) is None and not missing.exists()
    not_a_store = tmp_path / "papers"  # an existing folder that is not a store is no store either
    not_a_store.mkdir()
    assert stored_sources(not_a_store) is None and list(not_a_store.iterdir()) == []
    store = tmp_path / "store"
    store.mkdir()
    manifest = Manifest(store / "manifest.sqlite")
    assert stored_sources(store) == 0
    manifest.replace_sources([], [SourceRecord("s1", "/d/a.txt", "text", "A", "h", "text", (), 0.0)], [], {})
    manifest.close()
    assert stored_sources(store) == 1


@pytest.mark.parametrize(("create", "state"), [(False, "does not exist yet"), (True, "holds no documents")])
def test_serve_says_when_its_store_is_missing_or_empty(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], create: bool, state: str
) -> None:
    from citegraph.server.cli import _note_an_empty_store

    store = tmp_path / "store"
    if create:
        store.mkdir()
        Manifest(store / "manifest.sqlite").close()
    _note_an_empty_store(store)
    note = capsys.readouterr().err.strip()
    assert note.startswith(f"note: the store at {store} {state}") and "citegraph ingest --store" in note
    assert "\n" not in note and store.exists() == create
