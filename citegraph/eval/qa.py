"""Answer quality of the ``rag`` graph on a SQuAD-format file (v1.1 or v2.0).

Every paragraph of the file becomes one document of a cached store; every question is asked through the
graph twice: against the full corpus (answerable) and against the corpus without its gold paragraph
(the abstention test; v2.0's unanswerable questions are asked once, against the full corpus).

Metrics (answerable questions unless said otherwise):

* ``hit_rate``: the gold paragraph is among the cited sources;
* ``answer_recall``: a gold answer string occurs in the answer text (SQuAD normalisation);
* ``f1``: SQuAD token F1 of the answer text (markers removed) against the best gold answer;
* ``short_f1`` / ``short_exact``: F1 / exact match of the short answer (the answer text where there is
  none); ``short_answer_share``: share of answerable questions that got a short answer;
* ``citation_precision``: share of citations whose cited text is from the gold paragraph or contains a
  gold answer — an independent check, since every published citation already passed our verifier;
* ``verified_share``: share of answers the verifier passed in full (abstentions count as not verified);
* ``abstain_unanswerable``: abstention rate with the gold paragraph removed (plus v2.0 impossible ones);
* ``abstain_answerable``: abstention rate with the gold paragraph present;
* ``p50_ms`` / ``p95_ms``: latency of one answerable question through the whole graph.
"""

from __future__ import annotations

import collections
import copy
import dataclasses
import hashlib
import json
import re
import string
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from citegraph.answers import strip_markers
from citegraph.ingest.pipeline import source_id_for
from citegraph.retrieval.fusion import Ranking
from citegraph.retrieval.pipeline import RetrievalPipeline
from citegraph.settings import Settings

DATASET = "squad"


@dataclass(frozen=True)
class Question:
    """One SQuAD question, its paragraph and gold answers (empty for a v2.0 impossible question)."""

    qid: str
    question: str
    doc_id: str
    answers: tuple[str, ...]


@dataclass
class SquadData:
    """Paragraphs (doc id -> (title, text)) and questions of one SQuAD file."""

    name: str
    paragraphs: dict[str, tuple[str, str]]
    questions: list[Question] = field(default_factory=list)


def load_squad(path: Path | str) -> SquadData:
    """Read a SQuAD v1.1/v2.0 JSON file; paragraph ids are ``<article>-<paragraph>`` indices."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no SQuAD file at {path}")
    raw = json.loads(path.read_text(encoding="utf-8"))
    if "data" not in raw:
        raise ValueError(f"{path} is not SQuAD format (no 'data' list)")
    data = SquadData(name=path.stem, paragraphs={})
    for a, article in enumerate(raw["data"]):
        for p, paragraph in enumerate(article["paragraphs"]):
            doc_id = f"{a}-{p}"
            data.paragraphs[doc_id] = (article.get("title", "").replace("_", " "), paragraph["context"])
            for qa in paragraph["qas"]:
                answers = () if qa.get("is_impossible") else tuple(x["text"] for x in qa["answers"])
                data.questions.append(Question(qa["id"], qa["question"], doc_id, answers))
    return data


# -- SQuAD answer normalisation (lowercase, no punctuation, no articles, folded whitespace) -------------
_ARTICLES = re.compile(r"\b(a|an|the)\b")


def normalize_answer(text: str) -> str:
    text = "".join(ch for ch in text.lower() if ch not in set(string.punctuation))
    return " ".join(_ARTICLES.sub(" ", text).split())


def token_f1(prediction: str, gold: str) -> float:
    pred, ref = normalize_answer(prediction).split(), normalize_answer(gold).split()
    common = sum((collections.Counter(pred) & collections.Counter(ref)).values())
    if not common:
        return 0.0
    precision, recall = common / len(pred), common / len(ref)
    return 2 * precision * recall / (precision + recall)


def plain_text(answer: str) -> str:
    """The answer without its [n] markers."""
    return strip_markers(answer)


# -- store ------------------------------------------------------------------------------------------------
def squad_key(data: SquadData, settings: Settings) -> str:
    digest = hashlib.sha256()
    for doc_id, (title, text) in data.paragraphs.items():
        digest.update(f"{doc_id}\x00{title}\x00{text}\x00".encode())
    model = str(settings.embedding_model or "bundled-all-MiniLM-L6-v2")
    digest.update(f"|{settings.chunk_size}|{settings.chunk_overlap}|{model}|qa1".encode())
    return digest.hexdigest()[:16]


def open_squad_store(data: SquadData, settings: Settings, cache_dir: Path | None = None) -> Any:
    """A store holding every paragraph (``beir://squad/<doc id>``), built once and cached."""
    from citegraph.eval.beir import default_cache_root, prepare_doc
    from citegraph.retrieval.store import HybridStore

    root = (cache_dir or default_cache_root()) / f"{data.name}-{squad_key(data, settings)}"
    store = HybridStore(settings.model_copy(update={"store_dir": root / "store"}))
    known = set(store.manifest.source_hashes())
    todo = [
        prepare_doc(DATASET, doc_id, title, text, settings)
        for doc_id, (title, text) in data.paragraphs.items()
        if f"beir://{DATASET}/{doc_id}" not in known
    ]
    if todo:
        store.commit([p for p in todo if p.chunks], [])
    return store


def doc_of(source: str) -> str:
    return source.rsplit("/", 1)[-1]


# -- the excluded-paragraph pipeline -----------------------------------------------------------------------
class ExcludingPipeline(RetrievalPipeline):
    """A pipeline that never returns chunks of one source: the corpus as if that paragraph had been
    removed, without re-indexing for every question (BM25 statistics still count it, a negligible change)."""

    excluded_source: str = ""

    def _drop(self, rankings: list[Ranking]) -> list[Ranking]:
        sources = self.source_ids([c for r in rankings for c in r.ids])
        kept = []
        for r in rankings:
            pairs = [
                (c, s) for c, s in zip(r.ids, r.scores, strict=True) if sources.get(c) != self.excluded_source
            ]
            kept.append(Ranking(r.name, r.weight, tuple(c for c, _ in pairs), tuple(s for _, s in pairs)))
        return kept

    def search(self, *args: Any, **kwargs: Any) -> list[Ranking]:
        return self._drop(super().search(*args, **kwargs))

    def feedback(self, *args: Any, **kwargs: Any) -> list[Ranking]:
        return self._drop(super().feedback(*args, **kwargs))


def excluding_pipeline(base: RetrievalPipeline, excluded_doc: str) -> ExcludingPipeline:
    """``base`` (caches shared) without the paragraph ``excluded_doc``."""
    clone = copy.copy(base)
    clone.__class__ = ExcludingPipeline
    clone.excluded_source = source_id_for(f"beir://{DATASET}/{excluded_doc}")  # type: ignore[attr-defined]
    return clone  # type: ignore[return-value]


def retrieved_with_and_without(
    store: Any, questions: list[Question], log: Callable[[str], None] = print, top_k: int = 5
) -> Iterator[tuple[Question, list[Any], list[Any]]]:
    """Each of ``questions`` retrieved (at most ``top_k`` passages) through the ``retrieval`` graph twice,
    over ``store`` (an ``open_squad_store``): with its paragraph and with it removed, as (question, hits,
    hits without)."""
    from citegraph.context import RagContext
    from citegraph.graphs.retrieval import graph
    from citegraph.resources import register_pipeline

    base = RetrievalPipeline(store, store.settings)
    for i, q in enumerate(questions, 1):
        found = []
        for name, pipeline in (("with", base), ("removed", excluding_pipeline(base, q.doc_id))):
            # One name per side, re-registered per question: the runs are sequential.
            register_pipeline(f"squad-{name}", pipeline)
            found.append(
                graph.invoke(
                    {"question": q.question}, context=RagContext(pipeline=f"squad-{name}", top_k=top_k)
                )["hits"]
            )
        yield q, found[0], found[1]
        if i % 50 == 0 or i == len(questions):
            log(f"{i}/{len(questions)} questions")


# -- evaluation --------------------------------------------------------------------------------------------
@dataclass
class QAConfig:
    dataset: Path
    strategy: str = "extract"
    model: str = "gguf:smollm2"
    limit: int | None = None
    top_k: int = 5
    cache_dir: Path | None = None
    abstention: bool = True  # also ask every question without its gold paragraph


def _ask(graph: Any, question: str, context: Any) -> tuple[dict, float]:
    start = time.perf_counter()
    state = graph.invoke({"question": question}, context=context)
    return dict(state["answer"]), (time.perf_counter() - start) * 1000


def score_answer(answer: dict, q: Question, paragraphs: dict[str, tuple[str, str]]) -> dict[str, float]:
    """Per-question metrics of an answer to an answerable question."""
    text = plain_text(answer["answer"]) if not answer["abstained"] else ""
    cited_docs = {doc_of(c["source"]) for c in answer["citations"]}
    gold = [normalize_answer(a) for a in q.answers]
    correct_citations = [
        doc_of(c["source"]) == q.doc_id or any(g and g in normalize_answer(c["quote"]) for g in gold)
        for c in answer["citations"]
    ]
    short = answer.get("short_answer") or text
    return {
        "short_f1": max((token_f1(short, a) for a in q.answers), default=0.0) if short else 0.0,
        "short_exact": float(bool(short) and normalize_answer(short) in gold),
        "has_short": float(bool(answer.get("short_answer"))),
        "hit": float(q.doc_id in cited_docs),
        "recall": float(bool(text) and any(g and g in normalize_answer(text) for g in gold)),
        "f1": max((token_f1(text, a) for a in q.answers), default=0.0) if text else 0.0,
        "citations": float(len(correct_citations)),
        "correct_citations": float(sum(correct_citations)),
        "verified": float(answer["verified"]),
        "abstained": float(answer["abstained"]),
    }


def evaluate_qa(config: QAConfig, log: Callable[[str], None] = print) -> dict[str, Any]:
    """Run the questions of ``config.dataset`` through the rag graph and return the metrics JSON."""
    from citegraph.context import RagContext
    from citegraph.graphs.rag import graph
    from citegraph.resources import register_pipeline

    settings = Settings()
    data = load_squad(config.dataset)
    questions = data.questions[: config.limit] if config.limit else data.questions
    store = open_squad_store(data, settings, config.cache_dir)
    base = RetrievalPipeline(store, store.settings)
    register_pipeline("qa-eval", base)
    context = RagContext(
        strategy=config.strategy,  # type: ignore[arg-type]
        model=config.model,
        top_k=config.top_k,
        pipeline="qa-eval",
    )
    _ask(graph, questions[0].question, context)  # warm-up: models loaded, caches filled

    rows, latencies, unanswerable = [], [], []
    for i, q in enumerate(questions, 1):
        answer, ms = _ask(graph, q.question, context)
        if q.answers:
            rows.append(score_answer(answer, q, data.paragraphs))
            latencies.append(ms)
        else:
            unanswerable.append(float(answer["abstained"]))
        if config.abstention and q.answers:
            # One name, re-registered per question: the runs are sequential.
            register_pipeline("qa-eval-excluding", excluding_pipeline(base, q.doc_id))
            removed = dataclasses.replace(context, pipeline="qa-eval-excluding")
            unanswerable.append(float(_ask(graph, q.question, removed)[0]["abstained"]))
        if i % 50 == 0 or i == len(questions):
            log(f"{i}/{len(questions)} questions")

    def mean(key: str) -> float:
        return round(float(np.mean([r[key] for r in rows])), 4) if rows else 0.0

    citations = sum(r["citations"] for r in rows)
    return {
        "dataset": data.name,
        "questions": len(questions),
        "strategy": config.strategy,
        "model": config.model if config.strategy == "generate" else "none",
        "hit_rate": mean("hit"),
        "answer_recall": mean("recall"),
        "f1": mean("f1"),
        "short_f1": mean("short_f1"),
        "short_exact": mean("short_exact"),
        "short_answer_share": mean("has_short"),
        "citation_precision": round(sum(r["correct_citations"] for r in rows) / citations, 4)
        if citations
        else 0.0,
        "verified_share": mean("verified"),
        "abstain_unanswerable": round(float(np.mean(unanswerable)), 4) if unanswerable else None,
        "abstain_answerable": mean("abstained"),
        "p50_ms": round(float(np.percentile(latencies, 50)), 1) if latencies else 0.0,
        "p95_ms": round(float(np.percentile(latencies, 95)), 1) if latencies else 0.0,
    }
