"""Representations as retrieval systems (bag of words, TF-IDF, word2vec) and the polysemy probe."""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from citegraph.eval.polysemy import PROBES, ContextualEncoder, StaticSpace, find_word, sense_separation
from citegraph.eval.representations import (
    SparseRanker,
    Word2VecConfig,
    Word2VecRanker,
    idf_weights,
    mean_vector,
    representation_rankers,
    top_positions,
    train_word2vec,
)
from citegraph.eval.retrieval import representation_systems
from citegraph.retrieval.tokenizer import tokenize

pytestmark = pytest.mark.usefixtures("one_torch_thread")

# "apple" is in 3 of 4 documents, "banana" in one: weighting decides which document a query of both wins.
DOCS = [
    "apple apple apple apple cherry",
    "banana cherry date",
    "apple cherry",
    "apple date",
]
SMALL_W2V = Word2VecConfig(vector_size=16, window=3, negative=3, min_count=1, epochs=30, seed=3)


def topic_sentences(seed: int = 0, count: int = 300) -> list[list[str]]:
    """Sentences drawn from two disjoint vocabularies: words of one topic only ever meet each other."""
    rng = random.Random(seed)
    topics = [[f"a{i}" for i in range(6)], [f"b{i}" for i in range(6)]]
    return [rng.choices(topics[i % 2], k=8) for i in range(count)]


def test_top_positions_orders_by_score_then_position() -> None:
    scores = np.array([0.1, 0.5, 0.0, 0.5, 0.3])
    assert top_positions(scores, 3) == [1, 3, 4]
    assert top_positions(scores, 10) == [1, 3, 4, 0, 2]
    assert top_positions(scores, 10, keep_zero=False) == [1, 3, 4, 0]


def test_tfidf_favours_the_rare_term_that_counts_miss() -> None:
    terms = [tokenize(d) for d in DOCS]
    assert SparseRanker("bow_count", terms).rank("apple banana", 4)[0] == 0
    assert SparseRanker("tfidf", terms).rank("apple banana", 4)[0] == 1


def test_sparse_rankers_return_only_matching_chunks() -> None:
    terms = [tokenize(d) for d in DOCS]
    for kind in ("bow_binary", "bow_count", "tfidf"):
        ranker = SparseRanker(kind, terms)
        assert sorted(ranker.rank("date", 10)) == [1, 3]
        assert ranker.rank("zebra", 10) == []


@pytest.mark.parametrize("kind", ["bow_binary", "bow_count", "tfidf"])
def test_fast_query_path_is_the_vectorizers_cosine(kind: str) -> None:
    terms = [tokenize(d) for d in DOCS]
    ranker = SparseRanker(kind, terms)
    query = tokenize("apple apple banana date unknown")
    ids, weights = ranker.query_weights(query)
    fast = np.asarray(ranker.columns[:, ids] @ weights).ravel()
    vector = ranker.vectorizer.transform([query]).toarray().ravel()
    if kind == "bow_binary":
        assert set(np.flatnonzero(vector)) == set(ids)
    slow = ranker.columns @ vector
    np.testing.assert_allclose(fast / fast.max(), slow / slow.max(), rtol=1e-5)


def test_sparse_ranker_rejects_unknown_kind() -> None:
    with pytest.raises(ValueError):
        SparseRanker("bm42", [["a"]])
    with pytest.raises(ValueError):
        representation_rankers(["a b"], ["glove"])


def test_word2vec_learns_topics_and_is_deterministic() -> None:
    sentences = topic_sentences()
    first = train_word2vec(sentences, SMALL_W2V)
    second = train_word2vec(sentences, SMALL_W2V)
    np.testing.assert_array_equal(first.vectors, second.vectors)
    assert first.similarity("a0", "a1") > first.similarity("a0", "b0") + 0.3


def test_mean_vector_is_unit_or_zero() -> None:
    vectors = train_word2vec(topic_sentences(), SMALL_W2V)
    assert np.linalg.norm(mean_vector(vectors, ["a0", "a1", "unknown"])) == pytest.approx(1.0, abs=1e-5)
    assert not mean_vector(vectors, ["unknown"]).any()


def test_weighted_mean_follows_the_weights() -> None:
    vectors = train_word2vec(topic_sentences(), SMALL_W2V)
    only_a0 = mean_vector(vectors, ["a0", "b0"], {"a0": 2.0, "b0": 0.0})
    np.testing.assert_allclose(only_a0, vectors["a0"] / np.linalg.norm(vectors["a0"]), rtol=1e-5)
    assert not mean_vector(vectors, ["a0"], {"b0": 1.0}).any()
    assert idf_weights([["x", "y"], ["x"]])["y"] > idf_weights([["x", "y"], ["x"]])["x"]


def test_word2vec_ranker_finds_the_topic() -> None:
    texts = [" ".join(s) for s in topic_sentences()]
    ranker = Word2VecRanker([t.split() for t in texts], SMALL_W2V)
    best = ranker.rank("a1 a2", 10)
    assert all(texts[i].startswith("a") for i in best)
    both = representation_rankers(texts, ["word2vec", "word2vec_idf"], SMALL_W2V)
    assert all(texts[i].startswith("b") for i in both["word2vec_idf"]("b3 b4", 10))


@dataclass
class FakeChunk:
    chunk_id: str
    text: str


class FakeStore:
    """Just enough of HybridStore for representation_systems: the manifest's chunks."""

    def __init__(self, texts: list[str]) -> None:
        self.manifest = self
        self._chunks = [FakeChunk(f"c{i}", t) for i, t in enumerate(texts)]

    def chunks(self) -> list[FakeChunk]:
        return self._chunks


def test_representation_systems_map_positions_to_chunk_ids() -> None:
    store = FakeStore(DOCS)
    systems = representation_systems(store, ("tfidf", "bm25"), lambda ids: ids)
    assert list(systems) == ["tfidf"]
    assert systems["tfidf"]("apple banana")[0] == "c1"
    assert representation_systems(store, ("bm25",), lambda ids: ids) == {}


def test_find_word_matches_whole_words_only() -> None:
    assert find_word("I like Java.", "java") == (7, 11)
    with pytest.raises(ValueError):
        find_word("I write JavaScript", "java")


def test_sense_separation_is_zero_for_one_vector_and_positive_for_two_directions() -> None:
    v = np.array([1.0, 2.0, 3.0])
    merged = sense_separation({"x": [v, v], "y": [v, v]})
    assert merged["gap"] == pytest.approx(0.0)
    assert merged["accuracy"] == pytest.approx(0.5)  # ties: chance with two senses
    east, north = np.array([1.0, 0.1]), np.array([0.1, 1.0])
    result = sense_separation({"x": [east, east * 2], "y": [north, north]})
    assert result["within"] == pytest.approx(1.0)
    assert result["gap"] > 0.5
    assert result["accuracy"] == 1.0


def test_static_space_neighbours_by_shared_documents(tmp_path: Path) -> None:
    docs = ["river water boat", "river water fish", "money loan interest", "money loan rate"] * 2
    space = StaticSpace(docs, SMALL_W2V)
    assert space.neighbours("bow", "river", 1)[0] == ("water", pytest.approx(1.0))
    assert space.neighbours("tfidf", "money", 1)[0][0] == "loan"
    assert space.vector("word2vec", "volcano") is None
    assert space.neighbours("tfidf", "volcano", 3) == []


def test_minilm_separates_the_senses_of_bank() -> None:
    encoder = ContextualEncoder()
    senses = PROBES["bank"]
    vectors = {s: [encoder.word_vector(x, "bank") for x in sents] for s, sents in senses.items()}
    assert sense_separation(vectors)["gap"] > 0.03
    static = {s: [encoder.word_vector(x, "bank", layer=0) for x in sents] for s, sents in senses.items()}
    assert abs(sense_separation(static)["gap"]) < 0.02  # before attention, only position differs
    words = [w for w, _ in encoder.all_words("The bank raised the interest rate.")]
    assert words == ["bank", "raised", "interest", "rate"]  # stop words and short words out
