"""The retrieval pipeline: normalize -> expand -> search each variant (BM25 + dense) -> fuse -> PRF ->
fuse -> select (similarity floor, MMR, auto top-k).

Every step is a method the LangGraph nodes (``citegraph/graphs/retrieval.py``) and the LangChain
retriever (``retriever.py``) call; ``run`` chains them with the embedding calls batched (one model call
for all variants, one dense search for all of them: a matrix product over the in-memory vectors of a
small store, else one Chroma call), which is what keeps a query near 20 ms.

BM25 rankings add a document prior (``Settings.bm25_source_weight``): each chunk's BM25 score plus a
multiple of its whole source's BM25 score (``SourceBm25``), so a document whose chunks split the query's
terms between them is not lost to chunking.
"""

from __future__ import annotations

import copy
import time
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from citegraph.retrieval.fusion import Fused, Ranking, fuse_rankings
from citegraph.retrieval.mmr import auto_k, mmr
from citegraph.retrieval.multi_query import ExpansionConfig, Variant, VariantKind, expand_query, prf_terms
from citegraph.retrieval.query import NormalizedQuery, holds_name, named_terms, normalize_query
from citegraph.settings import Settings

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel

    from citegraph.retrieval.store import Hit, HybridStore

_QUERY_CACHE = 4096  # query-text vectors kept (a few MB)
_VECTOR_CACHE = 50_000  # stored chunk vectors kept in memory (~77 MB at 384-d): MMR and PRF reuse them


@dataclass
class RetrievalResult:
    """What one query retrieved: the selected hits, the full fused ranking behind them, and why."""

    query: NormalizedQuery
    variants: list[Variant]
    fused: list[Fused]
    selected: list[Hit]
    rankings: list[Ranking] = field(default_factory=list)
    timings_ms: dict[str, float] = field(default_factory=dict)

    def ranked_ids(self) -> list[str]:
        """Selected chunks first, then the rest of the fused ranking (what the eval scores)."""
        head = [h.chunk_id for h in self.selected]
        chosen = set(head)
        return head + [f.chunk_id for f in self.fused if f.chunk_id not in chosen]


class RetrievalPipeline:
    """The full retriever over one ``HybridStore``; build once, call ``run`` per query (thread-safe reads)."""

    def __init__(
        self,
        store: HybridStore,
        settings: Settings | None = None,
        chat_model: BaseChatModel | None = None,
    ) -> None:
        self.store = store
        self.settings = settings or store.settings
        self.chat_model = chat_model
        self._vectors: OrderedDict[str, np.ndarray] = OrderedDict()
        self._vocabulary: set[str] | None = None
        self._sources: dict[str, str] = {}
        self._queries: OrderedDict[str, np.ndarray] = OrderedDict()

    # -- steps --------------------------------------------------------------------------------------
    def normalize(self, question: str) -> NormalizedQuery:
        """Clean the question (raises QueryError), detect its language, optionally spell-correct/rewrite."""
        s = self.settings
        return normalize_query(
            question,
            s.max_query_chars,
            vocabulary=self._corpus_vocabulary if s.spell_check else None,
            chat_model=self.chat_model if s.llm_rewrite else None,
        )

    def _corpus_vocabulary(self) -> set[str]:
        if self._vocabulary is None:
            self._vocabulary = self.store.bm25_vocabulary()
        return self._vocabulary

    def expand(self, query: NormalizedQuery) -> list[Variant]:
        """The original plus its variants (deduplicated); just the original when multi-query is off."""
        s = self.settings
        extra: list[tuple[str, VariantKind]] = []
        if query.corrected:
            extra.append((query.corrected, "spelling"))
        if query.rewritten:
            extra.append((query.rewritten, "rewrite"))
        if not s.multi_query:
            return expand_query(query.original, extra, ExpansionConfig(False, False, paraphrases=0))
        config = ExpansionConfig(
            keywords=True,
            subquestions=True,
            keyword_weight=s.keyword_weight,
            keywords_for_questions_only=s.keywords_for_questions_only,
            subquestion_weight=s.subquestion_weight,
            paraphrase_weight=s.paraphrase_weight,
            paraphrases=s.paraphrases,
        )
        return expand_query(query.original, extra, config, self.chat_model, s.max_query_chars)

    def _weights(self, query: NormalizedQuery) -> tuple[float, float]:
        s = self.settings
        dense = s.dense_weight * (1.0 if query.language in ("en", "unknown") else s.non_english_dense_weight)
        return s.bm25_weight, dense

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Query vectors for ``texts``: the ones not seen lately in one model call, the rest from a small
        LRU cache (repeated questions, and the graph's nodes re-asking for the original's vector)."""
        missing = [t for t in dict.fromkeys(texts) if t not in self._queries]
        if missing:
            for text, vec in zip(missing, self.store.embedder.embed_documents(missing), strict=True):
                self._queries[text] = vec
            while len(self._queries) > _QUERY_CACHE:
                self._queries.popitem(last=False)
        for text in texts:
            self._queries.move_to_end(text)
        return np.stack([self._queries[t] for t in texts])

    def search(
        self, query: NormalizedQuery, variants: Sequence[Variant], vectors: np.ndarray | None = None
    ) -> list[Ranking]:
        """BM25 and dense rankings for each variant (``vectors``: one per dense variant, else embedded)."""
        s = self.settings
        bm25_w, dense_w = self._weights(query)
        rankings: list[Ranking] = []
        for v in variants:
            if v.bm25 and bm25_w > 0:
                ranked = self.store.bm25_weighted_ranking(
                    v.bm25_terms(), s.fusion_depth, s.bm25_source_weight
                )
                rankings.append(Ranking.of(f"{v.kind}:{v.text}/bm25", v.weight * bm25_w, ranked))
                # BM25 reads "--follow" as "follow", which every "the following" in a manual holds too:
                # the chunks naming the option as written are ranked again, on their own.
                if v.kind == "original" and (named := self.named(v.text, ranked)):
                    rankings.append(Ranking.of(f"{v.kind}:{v.text}/named", v.weight * bm25_w, named))
        dense = [v for v in variants if v.dense]
        if dense and dense_w > 0:
            if vectors is None:
                vectors = self.embed([v.text for v in dense])
            for v, ranked in zip(
                dense, self.store.dense_rankings_by_vectors(vectors, s.fusion_depth), strict=True
            ):
                rankings.append(Ranking.of(f"{v.kind}:{v.text}/dense", v.weight * dense_w, ranked))
        return rankings

    def named(self, question: str, ranked: Sequence[tuple[str, float]]) -> list[tuple[str, float]]:
        """Of a BM25 ranking, the chunks holding every option ``question`` names, as written."""
        options = [t for t in named_terms(question) if t.startswith("-")]
        if not options:
            return []
        texts = {c.chunk_id: c.text for c in self.store.manifest.chunks([cid for cid, _ in ranked])}
        return [
            (cid, score)
            for cid, score in ranked
            if all(holds_name(texts.get(cid, ""), option) for option in options)
        ]

    def vectors(self, chunk_ids: Sequence[str]) -> np.ndarray:
        """Stored vectors of ``chunk_ids`` (from Chroma, cached in memory; never re-embedded)."""
        missing = [cid for cid in dict.fromkeys(chunk_ids) if cid not in self._vectors]
        if missing:
            for cid, vec in zip(missing, self.store.embeddings(missing), strict=True):
                self._vectors[cid] = vec
            while len(self._vectors) > _VECTOR_CACHE:
                self._vectors.popitem(last=False)
        for cid in chunk_ids:
            self._vectors.move_to_end(cid)
        if not chunk_ids:
            return np.zeros((0, 0), dtype=np.float32)
        return np.stack([self._vectors[cid] for cid in chunk_ids])

    def feedback(
        self, query: NormalizedQuery, fused: Sequence[Fused], query_vector: np.ndarray
    ) -> list[Ranking]:
        """Pseudo-relevance feedback from the top fused chunks: a BM25 query with weighted expansion terms
        (RM3-style) and a dense Rocchio query (query + beta x mean of their stored vectors)."""
        s = self.settings
        top = [f.chunk_id for f in fused[: s.prf_docs]]
        if not s.prf or not top:
            return []
        bm25_w, dense_w = self._weights(query)
        rankings: list[Ranking] = []
        if s.prf_bm25_weight > 0 and bm25_w > 0:
            texts = [c.text for c in self.store.manifest.chunks(top)]
            base = Variant(query.original, "prf", 1.0).bm25_terms()
            expansion = prf_terms(
                [t for t, _ in base], texts, self.store.bm25_document_frequency, len(self.store), s.prf_terms
            )
            if expansion:
                terms = base + tuple((t, w * s.prf_term_weight) for t, w in expansion)
                ranked = self.store.bm25_weighted_ranking(terms, s.fusion_depth, s.bm25_source_weight)
                rankings.append(Ranking.of("prf/bm25", s.prf_bm25_weight * bm25_w, ranked))
        if s.prf_dense_weight > 0 and dense_w > 0 and s.prf_beta > 0:
            centroid = self.vectors(top).mean(axis=0)
            rocchio = query_vector + s.prf_beta * centroid
            rocchio = rocchio / (np.linalg.norm(rocchio) or 1.0)
            ranked = self.store.dense_rankings_by_vectors(rocchio[None, :], s.fusion_depth)[0]
            rankings.append(Ranking.of("prf/dense", s.prf_dense_weight * dense_w, ranked))
        return rankings

    def fuse(self, rankings: Sequence[Ranking]) -> list[Fused]:
        """The weighted convex combination of the rankings' normalised scores (``fuse_rankings``)."""
        return fuse_rankings(rankings)

    def source_ids(self, chunk_ids: Sequence[str]) -> dict[str, str]:
        """chunk id -> source id (cached; chunk ids are content hashes, so entries never go stale)."""
        missing = [c for c in chunk_ids if c not in self._sources]
        if missing:
            for chunk in self.store.manifest.chunks(missing):
                self._sources[chunk.chunk_id] = chunk.source_id
        return {c: self._sources[c] for c in chunk_ids if c in self._sources}

    def select(
        self, query: NormalizedQuery, fused: Sequence[Fused], query_vector: np.ndarray, k: int | None = None
    ) -> list[Hit]:
        """Similarity floor, then MMR over the top fused candidates, then auto top-k (min_k..max_k)."""
        s = self.settings
        max_k = k or s.max_k
        pool = list(fused[: max(s.mmr_pool, max_k)])
        if not pool:
            return []
        vecs = self.vectors([f.chunk_id for f in pool])
        sims = vecs @ query_vector
        # The floor needs a model that understands the language; MiniLM scores Thai near noise.
        if s.similarity_floor > -1 and query.language in ("en", "unknown"):
            keep = [i for i in range(len(pool)) if sims[i] >= s.similarity_floor]
            pool, vecs, sims = [pool[i] for i in keep], vecs[keep], sims[keep]
        if not pool:
            return []
        relevance = [f.score for f in pool]
        order = mmr(relevance, vecs, s.mmr_lambda if s.mmr else 1.0, max_k)
        if s.auto_k:
            order = order[
                : auto_k([relevance[i] for i in order], s.min_k, max_k, s.auto_k_ratio, s.auto_k_drop)
            ]
        chosen = [pool[i] for i in order]
        hits = self.store._hits(
            [(f.chunk_id, f.score) for f in chosen],
            similarity={pool[i].chunk_id: float(sims[i]) for i in order},
        )
        return hits

    # -- all at once ---------------------------------------------------------------------------------
    def run(self, question: str, k: int | None = None) -> RetrievalResult:
        """Retrieve for one question (raises QueryError for an empty or oversized one)."""
        clock = _Clock()
        query = self.normalize(question)
        variants = self.expand(query)
        clock.lap("expand")
        dense_variants = [v for v in variants if v.dense]
        texts = [v.text for v in dense_variants] or [query.original]
        embedded = self.embed(texts)
        query_vector = embedded[0]
        clock.lap("embed")
        rankings = self.search(query, variants, embedded if dense_variants else None)
        clock.lap("search")
        fused = self.fuse(rankings)
        extra = self.feedback(query, fused, query_vector)
        if extra:
            rankings += extra
            fused = self.fuse(rankings)
        clock.lap("feedback")
        selected = self.select(query, fused, query_vector, k)
        clock.lap("select")
        return RetrievalResult(query, variants, fused, selected, rankings, clock.laps)


class _Clock:
    def __init__(self) -> None:
        self.laps: dict[str, float] = {}
        self._t = time.perf_counter()

    def lap(self, name: str) -> None:
        now = time.perf_counter()
        self.laps[name] = round((now - self._t) * 1000, 3)
        self._t = now


def with_settings(pipeline: RetrievalPipeline, **changes: object) -> RetrievalPipeline:
    """The same pipeline (same class, store and caches) with some settings changed (ablations, contexts)."""
    clone = copy.copy(pipeline)  # shallow: the vector, query and source caches stay shared
    clone.settings = pipeline.settings.model_copy(update=changes)
    return clone
