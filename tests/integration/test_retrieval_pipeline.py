"""The retrieval pipeline on real stores: multi-query, fusion dedupe, selection, the LangChain retriever,
the LangGraph graph, bad queries and a Thai corpus."""

from __future__ import annotations

import shutil
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from citegraph.context import RagContext
from citegraph.graphs.retrieval import graph
from citegraph.ingest.pipeline import ingest_paths
from citegraph.resources import register_pipeline
from citegraph.retrieval.pipeline import RetrievalPipeline, with_settings
from citegraph.retrieval.query import QueryError
from citegraph.retrieval.retriever import CiteGraphRetriever
from citegraph.retrieval.store import HybridStore
from citegraph.settings import Settings
from tests.integration.corpus import write_corpus

pytestmark = pytest.mark.integration

THAI = Path(__file__).resolve().parent.parent / "fixtures" / "thai"


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory: pytest.TempPathFactory, embedder) -> RetrievalPipeline:  # type: ignore[no-untyped-def]
    root = tmp_path_factory.mktemp("retrieval")
    settings = Settings(store_dir=root / "store", chunk_size=300, chunk_overlap=60)
    store = HybridStore(settings, embedder=embedder)
    ingest_paths(store, [write_corpus(root / "docs")["lighthouse"].parent], settings)
    yield RetrievalPipeline(store, settings)
    store.close()


def test_the_right_passage_comes_first(pipeline: RetrievalPipeline) -> None:
    for question, expected in [
        ("Who designed the Kestrel bridge?", "Agnes Thorne"),
        ("Which comet did Ilse Korda discover?", "Korda-7"),
        ("How many sailors did the lighthouse keeper save in the storm?", "nine sailors"),
    ]:
        result = pipeline.run(question)
        assert result.selected, question
        assert expected in result.selected[0].text, question
        assert 1 <= len(result.selected) <= pipeline.settings.max_k
        assert all(h.similarity is not None for h in result.selected)


def test_chunks_found_by_several_variants_are_fused_once(pipeline: RetrievalPipeline) -> None:
    result = pipeline.run("What is the bakery's most famous loaf and who founded the bakery?")
    kinds = Counter(v.kind for v in result.variants)
    assert kinds["original"] == 1 and kinds["subquestion"] == 2 and kinds["keywords"] == 1
    fused_ids = [f.chunk_id for f in result.fused]
    assert len(fused_ids) == len(set(fused_ids))  # one entry per chunk id
    top = result.fused[0]
    assert len(top.ranks) >= 4  # found by several (variant, retriever) rankings, counted once each
    selected_ids = [h.chunk_id for h in result.selected]
    assert len(selected_ids) == len(set(selected_ids))
    assert "Oskar Brell" in " ".join(h.text for h in result.selected)
    assert result.ranked_ids()[: len(selected_ids)] == selected_ids
    assert sorted(result.ranked_ids()) == sorted(fused_ids)


def test_a_compound_question_retrieves_both_answers(pipeline: RetrievalPipeline) -> None:
    result = pipeline.run("Who designed the Kestrel bridge, and which comet did Ilse Korda discover?")
    texts = " ".join(h.text for h in result.selected[:4])
    assert "Agnes Thorne" in texts and "Korda-7" in texts


def test_prf_and_ablations_change_what_runs(pipeline: RetrievalPipeline) -> None:
    full = pipeline.run("Who designed the Kestrel bridge?")
    assert any(r.name.startswith("prf/") for r in full.rankings)
    bare = with_settings(pipeline, multi_query=False, prf=False, mmr=False).run(
        "Who designed the Kestrel bridge?"
    )
    assert not any(r.name.startswith("prf/") for r in bare.rankings)
    assert [v.kind for v in bare.variants] == ["original"]
    assert "Agnes Thorne" in bare.selected[0].text


def test_the_bm25_document_prior_scores_chunks_by_their_whole_source(pipeline: RetrievalPipeline) -> None:
    store = pipeline.store
    index = store.source_bm25()
    assert set(index.source_ids) == {s.source_id for s in store.sources()}
    assert store.source_bm25() is index  # built once per BM25 generation
    terms = (("kestrel", 1.0), ("bridg", 1.0))
    plain = dict(store.bm25_weighted_ranking(terms, 50))
    prior = dict(store.bm25_weighted_ranking(terms, 50, source_weight=1.5))
    assert set(plain) <= set(prior)  # sibling chunks of a matching source join the ranking
    chunks = store.manifest.chunks(list(prior))
    source_of = {c.chunk_id: c.source_id for c in chunks}
    for cid, score in prior.items():
        assert score >= plain.get(cid, 0.0)
    best = max(prior, key=prior.__getitem__)
    assert any(source_of[best] == source_of[c] for c in plain)
    full = pipeline.run("Who designed the Kestrel bridge?")
    assert "Agnes Thorne" in full.selected[0].text


def test_small_stores_search_dense_exactly_in_memory(pipeline: RetrievalPipeline) -> None:
    store = pipeline.store
    flat = store.flat_index()
    assert flat is not None and sorted(flat.ids) == sorted(c.chunk_id for c in store.manifest.chunks())
    question = "Who designed the Kestrel bridge?"
    exact = store.dense_rankings_by_vectors(pipeline.embed([question]), 5)[0]
    ids = [c for c, _ in exact]
    assert [c for c, _ in store.dense_ranking(question, 5)] == ids  # the text entry point is exact too
    assert np.allclose(store.embeddings(ids), store._chroma_embeddings(ids))
    chroma_only = HybridStore(
        store.settings.model_copy(update={"dense_exact_max_chunks": 0}), embedder=store.embedder
    )
    try:
        assert chroma_only.flat_index() is None
        hnsw = chroma_only.dense_ranking(question, 5)
        assert [c for c, _ in hnsw] == ids
        assert [s for _, s in hnsw] == pytest.approx([s for _, s in exact], abs=1e-4)
        via_chroma = chroma_only.dense_rankings_by_vectors(pipeline.embed([question]), 5)[0]
        assert [c for c, _ in via_chroma] == ids
    finally:
        chroma_only.close()


def test_similarity_floor_drops_unrelated_chunks(pipeline: RetrievalPipeline) -> None:
    strict = with_settings(pipeline, similarity_floor=0.45)
    assert strict.run("lattice quantum chromodynamics of heavy quarks").selected == []
    assert "Agnes Thorne" in strict.run("Who designed the Kestrel bridge?").selected[0].text


@pytest.mark.parametrize("bad", ["", "   \u200b ", "?!", "x" * 5000])
def test_bad_queries_raise_a_clear_error(pipeline: RetrievalPipeline, bad: str) -> None:
    with pytest.raises(QueryError):
        pipeline.run(bad)


def test_langchain_retriever_returns_unique_documents(pipeline: RetrievalPipeline) -> None:
    retriever = CiteGraphRetriever(pipeline=pipeline, k=3)
    docs = retriever.invoke("Who designed the Kestrel bridge?")
    assert 1 <= len(docs) <= 3 and "Agnes Thorne" in docs[0].page_content
    assert len({d.id for d in docs}) == len(docs) and docs[0].metadata["source"].endswith("bridge.pdf")
    assert docs[0].metadata["similarity"] > 0


def test_langgraph_graph_fans_out_one_branch_per_variant(pipeline: RetrievalPipeline) -> None:
    register_pipeline("test-fan-out", pipeline)
    context = RagContext(pipeline="test-fan-out", top_k=3)
    state = graph.invoke(
        {"question": "Who designed the Kestrel bridge and when did it open?"}, context=context
    )
    assert len(state["variants"]) >= 3
    names = {r.name.rsplit("/", 1)[0] for r in state["rankings"]}
    assert len(names) >= len(state["variants"])  # every variant was searched (plus the PRF rankings)
    assert "Agnes Thorne" in state["hits"][0].text and len(state["hits"]) <= 3
    direct = pipeline.run("Who designed the Kestrel bridge and when did it open?", k=3)
    assert [h.chunk_id for h in state["hits"]] == [h.chunk_id for h in direct.selected]
    with pytest.raises(QueryError):
        graph.invoke({"question": "  "}, context=context)


def test_thai_corpus_is_segmented_and_searchable(tmp_path: Path, embedder) -> None:  # type: ignore[no-untyped-def]
    docs = tmp_path / "thai"
    shutil.copytree(THAI, docs, ignore=shutil.ignore_patterns("*.md"))
    settings = Settings(store_dir=tmp_path / "store")
    store = HybridStore(settings, embedder=embedder)
    try:
        assert ingest_paths(store, [docs], settings).ok
        # "ลิขสิทธิ์" (copyright) only ever appears inside unbroken runs of Thai script.
        top_bm25 = store.search_bm25("ลิขสิทธิ์", 3)
        assert top_bm25 and top_bm25[0].source.endswith("copyright_act_2537.txt")
        pipeline = RetrievalPipeline(store, settings)
        for question, source in [
            ("โปรแกรมคอมพิวเตอร์", "copyright_act_2537.txt"),  # "computer program"
            ("รัฐบาลดิจิทัลคืออะไร", "digital_government_act_2562.txt"),  # "what is digital government"
            ("พระราชบัญญัติการพนัน", "gambling_act_2478.txt"),  # "the gambling act"
        ]:
            result = pipeline.run(question)
            assert result.query.language == "th"
            assert result.selected and result.selected[0].source.endswith(source), question
    finally:
        store.close()


def test_a_named_option_finds_the_chunk_that_names_it(tmp_path: Path, embedder) -> None:  # type: ignore[no-untyped-def]
    # BM25 stems "--follow" to "follow", which every "the following" holds: here three chunks say "the
    # following" and "flag" more often than the one that names the option, among chunks about other things.
    docs = tmp_path / "docs"
    docs.mkdir()
    for i in range(3):
        (docs / f"flags{i}.md").write_text(
            f"# Flags {i}\n\nThe flag takes the following values, and the following flag follows it. Pass "
            f"the following flag {i} times.\n"
        )
    for topic in ("colours of the output", "the config file", "exit codes", "regex syntax", "encodings"):
        (docs / f"{topic.split()[-1]}.md").write_text(f"# About {topic}\n\nThis page is about {topic}.\n")
    (docs / "links.md").write_text("# Links\n\nThe `--follow` option makes the search enter symlinks.\n")
    settings = Settings(store_dir=tmp_path / "store", chunk_size=300, chunk_overlap=60)
    store = HybridStore(settings, embedder=embedder)
    try:
        ingest_paths(store, [docs], settings)
        pipeline = RetrievalPipeline(store, settings)
        question = "What does the --follow flag do?"
        result = pipeline.run(question)
        plain = store.bm25_ranking(question, 3)
        texts = {c.chunk_id: c.text for c in store.manifest.chunks([cid for cid, _ in plain])}
        assert not any("--follow" in texts[cid] for cid, _ in plain)  # what BM25 alone puts first
        links = next(h.chunk_id for h in store.search_bm25("enter symlinks", 1))
        named = [r for r in result.rankings if r.name.endswith("/named")]
        assert [r.ids for r in named] == [(links,)]  # not the chunks that only say "the following"
        without = {f.chunk_id: f.score for f in pipeline.fuse([r for r in result.rankings if r not in named])}
        lifted = {f.chunk_id: f.score for f in result.fused}
        assert lifted[links] == pytest.approx(without[links] + named[0].weight)
        assert links in [h.chunk_id for h in result.selected]
        assert pipeline.named("What does the --follow-links flag do?", plain) == []  # whole names only
    finally:
        store.close()
