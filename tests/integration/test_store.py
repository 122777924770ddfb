"""The hybrid store against a real Chroma and real files: ingest, re-ingest, change, remove, search."""

from __future__ import annotations

from pathlib import Path

import pytest

from citegraph.ingest.pipeline import ingest_paths, remove_paths
from citegraph.retrieval.store import HybridStore, StoreError
from tests.integration.corpus import write_corpus

pytestmark = pytest.mark.integration


def assert_consistent(store: HybridStore) -> set[str]:
    """Chroma, BM25 and the manifest name exactly the same chunks; returns those ids."""
    manifest_ids = store.manifest.chunk_ids()
    chroma_ids = set(store.collection.get(include=[])["ids"])
    bm25_ids = set(store._bm25.ids)
    assert chroma_ids == manifest_ids == bm25_ids
    return manifest_ids


def test_ingest_every_type_with_exact_offsets(tmp_path: Path, settings, make_store) -> None:
    files = write_corpus(tmp_path / "docs")
    store = make_store()
    report = ingest_paths(store, [tmp_path / "docs"], settings)
    assert report.ok and report.count("added") == 4
    ids = assert_consistent(store)
    assert len(ids) == report.chunks_embedded > 4
    by_path = {s.path: s for s in store.sources()}
    assert set(by_path) == {str(p.resolve()) for p in files.values()}
    assert {s.kind for s in by_path.values()} == {"text", "markdown", "html", "pdf"}
    assert by_path[str(files["bridge"].resolve())].title == "River Crossings"
    assert by_path[str(files["observatory"].resolve())].title == "Pellam Observatory"
    for chunk in store.manifest.chunks():
        source = store.source(chunk.source_id)
        assert source is not None and source.text[chunk.start : chunk.end] == chunk.text
    pdf_chunks = [
        c for c in store.manifest.chunks() if c.source_id == by_path[str(files["bridge"].resolve())].source_id
    ]
    assert {c.page for c in pdf_chunks} == {1, 2}


def test_search_finds_the_right_passage_in_each_mode(tmp_path: Path, settings, make_store) -> None:
    write_corpus(tmp_path / "docs")
    store = make_store()
    ingest_paths(store, [tmp_path / "docs"], settings)
    for search in (store.search_bm25, store.search_dense, store.search):
        top = search("Who designed the Kestrel bridge?", 3)[0]
        assert "Agnes Thorne" in top.text and top.page == 2 and top.source.endswith("bridge.pdf")
    hybrid = store.search("Which comet did Ilse Korda discover?", 2)
    assert "Korda-7" in hybrid[0].text and hybrid[0].bm25_rank == 1 and hybrid[0].dense_rank is not None
    assert store.search_bm25("zzzz qqqq", 5) == []
    doc = hybrid[0].to_document()
    assert doc.id == hybrid[0].chunk_id and doc.metadata["source"].endswith("observatory.html")


def test_reingest_adds_nothing_and_a_changed_file_replaces_its_chunks(
    tmp_path: Path, settings, make_store
) -> None:
    files = write_corpus(tmp_path / "docs")
    store = make_store()
    ingest_paths(store, [tmp_path / "docs"], settings)
    before = assert_consistent(store)

    again = ingest_paths(store, [tmp_path / "docs"], settings)
    assert again.count("unchanged") == 4 and again.chunks_embedded == 0
    assert assert_consistent(store) == before

    lighthouse = store.manifest.source_hashes()[str(files["lighthouse"].resolve())][0]
    old_lighthouse_ids = store.manifest.chunk_ids([lighthouse])
    text = files["lighthouse"].read_text()
    files["lighthouse"].write_text(text.replace("nine sailors", "eleven sailors"))
    changed = ingest_paths(store, [files["lighthouse"]], settings)
    assert [o.status for o in changed.outcomes] == ["replaced"]
    after = assert_consistent(store)
    new_lighthouse_ids = store.manifest.chunk_ids([lighthouse])
    assert old_lighthouse_ids - new_lighthouse_ids  # the edited chunk got a new id ...
    assert old_lighthouse_ids & new_lighthouse_ids  # ... the untouched ones kept theirs
    assert changed.chunks_embedded == len(new_lighthouse_ids - old_lighthouse_ids)  # and were not re-embedded
    assert after == (before - old_lighthouse_ids) | new_lighthouse_ids
    assert "eleven sailors" in store.search_bm25("how many sailors were saved", 1)[0].text


def test_remove_a_source_and_a_folder(tmp_path: Path, settings, make_store) -> None:
    files = write_corpus(tmp_path / "docs")
    store = make_store()
    ingest_paths(store, [tmp_path / "docs"], settings)
    report = remove_paths(store, [files["bakery"]])
    assert [o.status for o in report.outcomes] == ["removed"]
    assert store.search_bm25("caraway rye bread", 5) == []
    assert_consistent(store)
    files["lighthouse"].unlink()  # removal works for files already deleted from disk
    report = remove_paths(store, [tmp_path / "docs"])
    assert report.count("removed") == 3
    assert assert_consistent(store) == set() and store.is_empty()
    assert remove_paths(store, [tmp_path / "never-ingested.txt"]).failed[0].reason == "not in the store"


def test_bad_files_are_reported_and_the_rest_is_ingested(tmp_path: Path, settings, make_store) -> None:
    docs = tmp_path / "docs"
    write_corpus(docs)
    (docs / "empty.txt").write_bytes(b"")
    (docs / "binary.txt").write_bytes(bytes(range(256)) * 4)
    (docs / "corrupt.pdf").write_bytes(b"%PDF-1.4\nnot really a pdf")
    (docs / "latin1.txt").write_bytes("Le garçon a mangé une crème brûlée au café.".encode("cp1252"))
    (docs / "picture.png").write_bytes(b"\x89PNG")
    (docs / ".hidden.txt").write_text("hidden files are skipped")
    store = make_store()
    report = ingest_paths(store, [docs, tmp_path / "missing.txt"], settings)
    status = {Path(o.path).name: (o.status, o.reason) for o in report.outcomes}
    assert status["empty.txt"] == ("failed", "empty file")
    assert status["binary.txt"][0] == "failed" and "binary" in status["binary.txt"][1]
    assert status["corrupt.pdf"][0] == "failed" and "PDF" in status["corrupt.pdf"][1]
    assert status["missing.txt"] == ("failed", "no such file or directory")
    assert status["picture.png"][0] == "skipped"
    assert status["latin1.txt"][0] == "added" and "not UTF-8" in status["latin1.txt"][1]
    assert ".hidden.txt" not in status
    assert not report.ok and report.count("added") == 5
    assert_consistent(store)
    assert "crème brûlée" in store.search_bm25("garçon crème", 1)[0].text


def test_reopening_sees_the_same_store(tmp_path: Path, settings, make_store) -> None:
    write_corpus(tmp_path / "docs")
    first = make_store()
    ingest_paths(first, [tmp_path / "docs"], settings)
    ids = assert_consistent(first)
    second = make_store()
    assert assert_consistent(second) == ids
    assert second.search("Marta Vance medal", 1)[0].source.endswith("lighthouse.txt")


def test_a_store_refuses_a_different_embedding_model(tmp_path: Path, settings, make_store) -> None:
    write_corpus(tmp_path / "docs")
    ingest_paths(make_store(), [tmp_path / "docs"], settings)
    with pytest.raises(StoreError, match="not a local sentence-transformers folder"):
        HybridStore(settings.model_copy(update={"embedding_model": tmp_path / "no-model"}))
    store = make_store()
    store.manifest.set_meta("embedding_model", "some-other-model")
    with pytest.raises(StoreError, match="was built with embedding model 'some-other-model'"):
        store.search_dense("lighthouse", 1)


def test_readers_see_commits_of_another_writer(tmp_path: Path, settings, make_store) -> None:
    files = write_corpus(tmp_path / "docs")
    reader = make_store()
    assert reader.search_bm25("Kestrel bridge", 1) == []
    writer = make_store()
    ingest_paths(writer, [files["bridge"]], settings)
    assert reader.search_bm25("Kestrel bridge", 1)[0].source.endswith("bridge.pdf")


def test_chroma_never_fetches_its_default_onnx_model(
    tmp_path: Path, settings, make_store, monkeypatch
) -> None:
    """Every Chroma path (create, add, query, reopen, query_texts) uses our bundled embedder."""
    from chromadb.utils.embedding_functions.onnx_mini_lm_l6_v2 import ONNXMiniLM_L6_V2

    def forbidden(*args, **kwargs):
        raise AssertionError("Chroma tried to use its default ONNX model")

    monkeypatch.setattr(ONNXMiniLM_L6_V2, "_download_model_if_not_exists", forbidden)
    monkeypatch.setattr(ONNXMiniLM_L6_V2, "__call__", forbidden)
    write_corpus(tmp_path / "docs")
    ingest_paths(make_store(), [tmp_path / "docs"], settings)
    reopened = make_store()
    assert reopened.search_dense("lighthouse keeper", 1)[0].source.endswith("lighthouse.txt")
    # A plain Chroma query by text goes through the registered embedding function too.
    result = reopened.collection.query(query_texts=["Which comet did Ilse Korda discover?"], n_results=1)
    assert "Korda-7" in result["documents"][0][0]


def test_broken_symlink_and_unsupported_named_file(tmp_path: Path, settings, make_store) -> None:
    (tmp_path / "dangling.txt").symlink_to(tmp_path / "gone.txt")
    (tmp_path / "slides.pptx").write_bytes(b"PK\x03\x04")
    report = ingest_paths(make_store(), [tmp_path / "dangling.txt", tmp_path / "slides.pptx"], settings)
    reasons = {Path(o.path).name: o.reason for o in report.failed}
    assert reasons["dangling.txt"] == "broken symbolic link"
    assert reasons["slides.pptx"].startswith("unsupported file type '.pptx'")


def test_the_rag_graph_answers_in_process(tmp_path: Path, settings, make_store) -> None:
    from citegraph.context import RagContext
    from citegraph.graphs.rag import graph

    write_corpus(tmp_path / "docs")
    ingest_paths(make_store(), [tmp_path / "docs"], settings)
    state = graph.invoke(
        {"question": "  Who  saved nine\tsailors? "},
        context=RagContext(top_k=2, store_dir=str(settings.store_dir)),
    )
    assert state["question"] == "Who saved nine sailors?"
    answer = state["answer"]
    assert not answer["abstained"] and answer["citations"][0]["source"].endswith("lighthouse.txt")
    assert "nine sailors" in answer["answer"] and answer["answer"].endswith(".") and answer["verified"]


def test_a_chunk_is_found_by_its_section_heading(tmp_path: Path, settings, make_store) -> None:
    # The second section's chunk never says "binary"; its heading does, and the store indexes it there.
    filler = " ".join(f"Sentence {i} says nothing about the subject at hand." for i in range(30))
    text = f"# pcre2grep\n\n## Binary files\n\n{filler}\n\nA zero byte in the first 1024 bytes marks one.\n"
    (tmp_path / "manual.md").write_text(text)
    store = make_store()
    assert ingest_paths(store, [tmp_path / "manual.md"], settings).ok
    hit = store.search_bm25("binary", 5)
    assert hit and all(h.text in text for h in hit)
    assert any("first 1024 bytes" in h.text and "Binary" not in h.text for h in hit)
    ids = assert_consistent(store)
    store.reconcile()  # rebuilding the index from the manifest indexes the same texts
    assert assert_consistent(store) == ids and store.search_bm25("binary", 5) == hit
