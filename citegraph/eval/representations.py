"""Text representations as retrieval systems: bag of words, TF-IDF and averaged word2vec vectors.

Each representation turns chunks and queries into vectors and ranks chunks by cosine similarity, so
``citegraph eval retrieval`` can score them beside BM25, MiniLM (the ``dense`` system) and the pipeline:

- ``bow_binary``: which terms occur (0/1), L2-normalised; ``bow_count``: raw term counts, L2-normalised;
- ``tfidf``: scikit-learn's smoothed IDF times term count, L2-normalised;
- ``word2vec``: skip-gram with negative sampling (gensim) trained at run time on the collection's own chunks,
  one static vector per word, averaged over a chunk's (or query's) words; ``word2vec_idf`` weights that
  average by each word's IDF, so rare topical words count more than common ones.

The sparse ones use the BM25 tokenizer (stop words out, stemmed), so they differ from BM25 only in
weighting. word2vec keeps whole words (not stemmed), so its neighbours stay readable in the polysemy probe.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from citegraph.retrieval.tokenizer import make_tokenizer, tokenize

if TYPE_CHECKING:
    from gensim.models import KeyedVectors

SPARSE_KINDS = ("bow_binary", "bow_count", "tfidf")
REPRESENTATIONS = (*SPARSE_KINDS, "word2vec", "word2vec_idf")
Ranker = Callable[[str, int], list[int]]  # (query, depth) -> chunk positions, best first

word_tokens = make_tokenizer(stem=False, stopwords=True)  # word2vec's words: whole, stop words out


def _identity(tokens: list[str]) -> list[str]:
    """scikit-learn analyzer for text that is already tokenized (a named function: lambdas do not pickle)."""
    return tokens


def sparse_vectorizer(kind: str) -> Any:
    """An unfitted scikit-learn vectorizer for ``kind`` (one of ``SPARSE_KINDS``) over token lists."""
    from sklearn.feature_extraction.text import CountVectorizer, TfidfVectorizer

    if kind == "tfidf":
        return TfidfVectorizer(analyzer=_identity, lowercase=False)
    if kind in ("bow_binary", "bow_count"):
        return CountVectorizer(analyzer=_identity, lowercase=False, binary=kind == "bow_binary")
    raise ValueError(f"unknown sparse representation {kind!r}; expected one of {SPARSE_KINDS}")


def top_positions(scores: np.ndarray, depth: int, keep_zero: bool = True) -> list[int]:
    """Positions of the ``depth`` highest scores, best first (ties broken by position, for determinism)."""
    candidates = np.arange(scores.size) if keep_zero else np.flatnonzero(scores > 0)
    if candidates.size > depth:
        # argpartition first: a full sort of every chunk per query would dominate the latency.
        part = candidates[np.argpartition(-scores[candidates], depth - 1)[:depth]]
        candidates = np.sort(part)
    order = np.lexsort((candidates, -scores[candidates]))
    return [int(i) for i in candidates[order]]


class SparseRanker:
    """Cosine ranking over L2-normalised sparse term vectors (bag of words or TF-IDF)."""

    def __init__(self, kind: str, token_lists: Sequence[list[str]]) -> None:
        """Fit the vocabulary (and IDF) on the chunks' tokens and build the chunk matrix."""
        from sklearn.preprocessing import normalize

        self.kind = kind
        self.vectorizer = sparse_vectorizer(kind)
        # TfidfVectorizer normalises already; counts are normalised here so the dot product is a cosine.
        matrix = normalize(self.vectorizer.fit_transform(token_lists).astype(np.float32))
        self.columns = matrix.tocsc()  # column slices: a query touches only its own terms' columns
        self.vocabulary: dict[str, int] = self.vectorizer.vocabulary_
        self.idf = getattr(self.vectorizer, "idf_", None)

    def query_weights(self, tokens: list[str]) -> tuple[list[int], np.ndarray]:
        """The query's known terms (column ids) and their weights, as the vectorizer would weight them.
        Not normalised: scaling the query scales every chunk's score alike, so the ranking is the cosine's."""
        counts: dict[int, float] = {}
        for token in tokens:
            column = self.vocabulary.get(token)
            if column is not None:
                counts[column] = counts.get(column, 0.0) + 1.0
        ids = sorted(counts)
        weights = np.array([counts[i] for i in ids], dtype=np.float32)
        if self.kind == "bow_binary":
            weights = np.ones_like(weights)
        elif self.idf is not None:
            weights *= self.idf[ids].astype(np.float32)
        return ids, weights

    def rank(self, query: str, depth: int) -> list[int]:
        """Chunk positions sharing at least one term with ``query``, by cosine, best first."""
        ids, weights = self.query_weights(tokenize(query))
        if not ids:
            return []
        # sklearn's transform() per query costs ~15 ms; this slice-and-multiply does the same in well under 1.
        scores = np.asarray(self.columns[:, ids] @ weights).ravel()
        return top_positions(scores, depth, keep_zero=False)


@dataclass(frozen=True)
class Word2VecConfig:
    """Skip-gram with negative sampling; small, since the collection is small and training runs per eval."""

    vector_size: int = 100
    window: int = 5
    negative: int = 5
    min_count: int = 2
    epochs: int = 5
    seed: int = 0


def train_word2vec(sentences: Sequence[list[str]], config: Word2VecConfig | None = None) -> KeyedVectors:
    """Static word vectors trained on ``sentences`` (token lists). One worker thread: gensim is only
    deterministic for a fixed seed when a single thread consumes the data in order."""
    from gensim.models import Word2Vec

    config = config or Word2VecConfig()
    model = Word2Vec(
        sentences=[s for s in sentences if s],
        vector_size=config.vector_size,
        window=config.window,
        negative=config.negative,
        min_count=config.min_count,
        epochs=config.epochs,
        sg=1,
        seed=config.seed,
        workers=1,
    )
    return model.wv


def mean_vector(
    vectors: KeyedVectors, tokens: Sequence[str], weights: dict[str, float] | None = None
) -> np.ndarray:
    """The L2-normalised mean of the known words' vectors (weighted by ``weights[word]`` when given);
    zeros when no word is known."""
    known = [t for t in tokens if t in vectors.key_to_index]
    if not known:
        return np.zeros(vectors.vector_size, dtype=np.float32)
    w = np.array([weights.get(t, 0.0) if weights else 1.0 for t in known], dtype=np.float32)
    if not w.any():
        return np.zeros(vectors.vector_size, dtype=np.float32)
    mean = (w[:, None] * vectors[known]).sum(axis=0) / w.sum()
    norm = float(np.linalg.norm(mean))
    return mean / norm if norm > 0 else mean


def idf_weights(token_lists: Sequence[list[str]]) -> dict[str, float]:
    """Smoothed IDF of every word, as scikit-learn computes it: ln((1 + n) / (1 + df)) + 1."""
    df: dict[str, int] = {}
    for tokens in token_lists:
        for token in set(tokens):
            df[token] = df.get(token, 0) + 1
    n = len(token_lists)
    return {t: float(np.log((1 + n) / (1 + d)) + 1) for t, d in df.items()}


class Word2VecRanker:
    """Cosine ranking over averaged static word vectors (plain mean, or IDF-weighted)."""

    def __init__(
        self,
        token_lists: Sequence[list[str]],
        config: Word2VecConfig | None = None,
        idf: bool = False,
        vectors: KeyedVectors | None = None,
    ) -> None:
        """Train word2vec on the chunks themselves (unless ``vectors`` are given), then embed every chunk."""
        self.vectors = vectors if vectors is not None else train_word2vec(token_lists, config)
        self.weights = idf_weights(token_lists) if idf else None
        rows = [mean_vector(self.vectors, t, self.weights) for t in token_lists]
        self.matrix = np.stack(rows).astype(np.float32)

    def rank(self, query: str, depth: int) -> list[int]:
        """Chunk positions by cosine with the query's mean vector, best first."""
        query_vector = mean_vector(self.vectors, word_tokens(query), self.weights)
        return top_positions(self.matrix @ query_vector, depth)


def representation_rankers(
    texts: Sequence[str], names: Sequence[str], config: Word2VecConfig | None = None
) -> dict[str, Ranker]:
    """A ranker per requested representation over ``texts`` (the chunks, in a fixed order)."""
    unknown = [n for n in names if n not in REPRESENTATIONS]
    if unknown:
        raise ValueError(f"unknown representations {unknown}; expected some of {REPRESENTATIONS}")
    out: dict[str, Ranker] = {}
    if any(n in SPARSE_KINDS for n in names):
        terms = [tokenize(t) for t in texts]  # tokenized once for all the sparse kinds
        for kind in (n for n in names if n in SPARSE_KINDS):
            out[kind] = SparseRanker(kind, terms).rank
    wanted = [n for n in names if n in ("word2vec", "word2vec_idf")]
    if wanted:
        words = [word_tokens(t) for t in texts]
        vectors = train_word2vec(words, config)  # trained once, shared by both weightings
        for name in wanted:
            out[name] = Word2VecRanker(words, idf=name == "word2vec_idf", vectors=vectors).rank
    return out
