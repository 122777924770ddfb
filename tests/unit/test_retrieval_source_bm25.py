"""The source-level BM25 (a document prior for chunk scores): joining chunks, alignment, save/load."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from citegraph.retrieval.bm25 import Bm25Index, SourceBm25, join_chunks
from citegraph.settings import Settings


@dataclass(frozen=True)
class Chunk:
    chunk_id: str
    source_id: str
    start: int
    end: int
    text: str


def _chunks(source_id: str, text: str, size: int, overlap: int) -> list[Chunk]:
    out, start = [], 0
    while start < len(text):
        end = min(len(text), start + size)
        out.append(Chunk(f"{source_id}{len(out)}", source_id, start, end, text[start:end]))
        if end == len(text):
            break
        start = end - overlap
    return out


A = "Gulls nest on the cliffs near the old lighthouse. The keeper counted eleven sailors saved in 1887."
B = "The bridge over the river Kestrel opened in spring; its engineer counted rivets, not gulls."
C = "Sourdough bread needs flour, water, salt and patience; spelt flour makes a denser loaf."


def test_join_chunks_keeps_each_overlap_once_in_any_order() -> None:
    chunks = _chunks("a", A, 30, 8)
    assert len(chunks) > 3
    assert join_chunks(list(reversed(chunks))) == A


def test_chunks_get_their_whole_sources_score() -> None:
    chunks = _chunks("a", A, 30, 8) + _chunks("b", B, 40, 5) + _chunks("c", C, 40, 5)
    ids = [c.chunk_id for c in chunks] + ["orphan"]
    index = SourceBm25.build(ids, chunks)
    scores = index.chunk_scores([("keeper", 1.0), ("gull", 1.0)])
    assert scores is not None and scores.shape == (len(ids),)
    by_id = dict(zip(ids, scores, strict=True))
    a = [by_id[c.chunk_id] for c in chunks if c.source_id == "a"]
    assert len(set(a)) == 1 and a[0] > by_id["b0"] > 0  # A has both terms, B only "gulls"
    assert by_id["c0"] == 0 and by_id["orphan"] == 0
    assert index.chunk_scores([("zzz", 1.0)]) is None


def test_the_prior_lifts_a_chunk_whose_source_matches_the_whole_query() -> None:
    # "keeper" and "gulls" sit in different chunks of A; with the prior, every chunk of A beats the
    # chunk of B that matches one term; without it, the chunk-level scores alone decide.
    chunks = [*_chunks("a", A, 50, 5), Chunk("b0", "b", 0, len(B), B)]
    ids = [c.chunk_id for c in chunks]
    chunk_index = Bm25Index.build(ids, [c.text for c in chunks])
    sources = SourceBm25.build(ids, chunks)
    terms = [("keeper", 1.0), ("gull", 1.0)]
    assert chunk_index._model is not None
    vocab = chunk_index._model.vocab_dict
    plain = sum(w * chunk_index._model.get_scores_from_ids([vocab[t]]) for t, w in terms)
    prior = sources.chunk_scores(terms)
    assert prior is not None
    combined = plain + 1.5 * prior
    a_chunks = [i for i, c in enumerate(chunks) if c.source_id == "a"]
    assert min(combined[i] for i in a_chunks) > combined[ids.index("b0")]
    assert min(plain[i] for i in a_chunks) < plain[ids.index("b0")]


def test_save_load_round_trip_and_mismatch(tmp_path: Path) -> None:
    chunks = _chunks("a", A, 30, 8) + _chunks("c", C, 40, 5)
    ids = [c.chunk_id for c in chunks]
    index = SourceBm25.build(ids, chunks)
    index.save(tmp_path / "sources")
    loaded = SourceBm25.load(tmp_path / "sources", len(ids))
    terms = [("flour", 1.0)]
    np.testing.assert_allclose(loaded.chunk_scores(terms), index.chunk_scores(terms))  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        SourceBm25.load(tmp_path / "sources", len(ids) + 1)
    (tmp_path / "sources" / "source_ids.json").write_text('["a", "c"]')  # an older format rebuilds
    with pytest.raises(ValueError):
        SourceBm25.load(tmp_path / "sources", len(ids))
    empty = SourceBm25.build([], [])
    assert empty.chunk_scores(terms) is None


def test_settings_for_the_document_prior() -> None:
    settings = Settings()
    assert settings.bm25_source_weight > 0
    assert settings.fusion_depth >= 200 and settings.keywords_for_questions_only
    with pytest.raises(ValueError):
        Settings(bm25_source_weight=-1)
