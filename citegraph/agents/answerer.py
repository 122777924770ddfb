"""The answer agent: turns retrieved chunks into an answer whose every sentence cites its source.

Two strategies. *extract* (no LLM) picks the sentences of the retrieved chunks closest to the question and
cites each, quoting the exact characters of the source. *generate* numbers the chunks as sources and has a
chat model write the answer with [n] markers (``prompts.answer_messages``). Either way the draft goes to
the verifier; ``finalize`` publishes what survives it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from langchain_core.language_models import BaseChatModel
from langgraph.config import get_stream_writer
from langgraph.runtime import Runtime

from citegraph.agents.prompts import Source, answer_messages
from citegraph.answers import (
    ABSTAIN_TEXT,
    Answer,
    Citation,
    abstention,
    cite,
    markers,
    renumbered,
    strip_markers,
)
from citegraph.context import RagContext
from citegraph.ingest.chunking import sentence_spans
from citegraph.models.registry import load_chat_model
from citegraph.resources import pipeline_for
from citegraph.retrieval.embeddings import Embedder
from citegraph.retrieval.store import Hit, HybridStore
from citegraph.retrieval.tokenizer import tokenize
from citegraph.state import RagState, Turn


def span_key(source: str, start: int) -> str:
    """Identifies a cited span across drafts (a rejected sentence is not offered again)."""
    return f"{source}:{start}"


def candidate_sentences(hits: list[Hit]) -> list[tuple[Hit, int, int]]:
    """(hit, start, end) of every sentence of the hits that could answer something, in source offsets.

    Overlapping chunks repeat sentences: each (source, offset) is kept once. Questions ("And what of Irene
    Adler?") and headings or fragments under four words are never answers.
    """
    seen: set[tuple[str, int]] = set()
    candidates = []
    for hit in hits:
        for a, b in sentence_spans(hit.text):
            sentence = hit.text[a:b]
            key = (hit.source_id, hit.start + a)
            if key in seen or len(sentence.split()) < 4 or sentence.rstrip("\"'”’) ").endswith("?"):
                continue
            seen.add(key)
            candidates.append((hit, hit.start + a, hit.start + b))
    return candidates


# Calibrated on 120 XQuAD questions (every 10th) with and without their gold paragraph: a best sentence
# scoring below this means the passages do not answer the question (there: abstains on 4% of answerable
# and 70% of unanswerable ones; 0.62 gave 7% / 73%, 0.58 gave 3% / 66%). See benchmarks/README.md.
MIN_ANSWER_SCORE = 0.60


@dataclass
class RankedSentence:
    """A candidate answer sentence: where it is, how similar to the question, and its ranking score."""

    hit: Hit
    start: int
    end: int
    similarity: float
    score: float


def rank_sentences(
    question: str, hits: list[Hit], embedder: Embedder, exclude: frozenset[str] = frozenset()
) -> list[RankedSentence]:
    """The retrieved sentences, best first: cosine similarity to the question plus 0.3 x the share of
    question terms they contain (so a sentence naming what was asked about wins a near tie). ``exclude``
    holds ``span_key``s of sentences a reviewer rejected."""
    candidates = [c for c in candidate_sentences(hits) if span_key(c[0].source, c[1]) not in exclude]
    if not candidates:
        return []
    texts = [hit.text[start - hit.start : end - hit.start] for hit, start, end in candidates]
    similarity = embedder.embed_sentences(texts) @ embedder.embed_query(question)
    terms = set(tokenize(question))
    overlap = np.array([len(terms & set(tokenize(t))) / max(len(terms), 1) for t in texts])
    scores = similarity + 0.3 * overlap
    return [
        RankedSentence(*candidates[i], float(similarity[i]), float(scores[i])) for i in np.argsort(-scores)
    ]


def answerable(ranked: list[RankedSentence], min_score: float = MIN_ANSWER_SCORE) -> bool:
    """Whether some retrieved sentence matches the question well enough to be worth answering from."""
    return bool(ranked) and ranked[0].score >= min_score


def extractive_answer(
    question: str,
    hits: list[Hit],
    store: HybridStore,
    max_sentences: int = 3,
    min_similarity: float = 0.25,
    exclude: frozenset[str] = frozenset(),
    min_score: float = MIN_ANSWER_SCORE,
) -> Answer:
    """Answer with the sentences of the retrieved chunks that best match the question, each cited.

    Abstains when nothing was retrieved or the best sentence scores below ``min_score``; after the best,
    sentences need ``min_similarity`` to the question to be included.
    """
    ranked = rank_sentences(question, hits, store.embedder, exclude)
    if not answerable(ranked, min_score):
        return abstention(question)
    picked = [(r.hit, r.start, r.end) for r in ranked[:max_sentences] if r.similarity >= min_similarity]
    if not picked:
        return abstention(question)

    citations: list[Citation] = []
    sentences: list[str] = []
    source_texts: dict[str, str] = {}
    for n, (hit, start, end) in enumerate(picked, start=1):
        if hit.source_id not in source_texts:
            record = store.source(hit.source_id)
            source_texts[hit.source_id] = record.text if record else hit.text
        source_text = source_texts[hit.source_id]
        citation = cite(n, hit.chunk_id, hit.source, source_text, start, end, hit.page)
        citations.append(citation)
        sentences.append(f"{' '.join(citation['quote'].split())} [{n}]")
    return Answer(
        question=question, answer=" ".join(sentences), citations=citations, abstained=False, verified=False
    )


def chunk_citation(n: int, hit: Hit, store: HybridStore) -> Citation:
    """Citation of a whole retrieved chunk as source [n] (the generate strategy cites chunks)."""
    record = store.source(hit.source_id)
    source_text = record.text if record else hit.text
    start, end = (hit.start, hit.end) if record else (0, len(hit.text))
    return cite(n, hit.chunk_id, hit.source, source_text, start, end, hit.page)


def numbered_sources(citations: list[Citation]) -> list[Source]:
    """The numbered sources an LLM is shown, in the prompt's shape."""
    return [
        Source(n=c["n"], source=Path(c["source"]).name, location=c["location"], text=c["quote"])
        for c in citations
    ]


def is_abstention(text: str) -> bool:
    """Whether a model's reply declines to answer (in the prompt's words or close to them)."""
    plain = " ".join(strip_markers(text).split()).lower()
    return not plain or ABSTAIN_TEXT.lower().rstrip(".") in plain or "do not say" in plain


def generated_answer(
    question: str,
    hits: list[Hit],
    store: HybridStore,
    chat_model: BaseChatModel,
    feedback: str = "",
    history: list[Turn] | None = None,
) -> Answer:
    """Have ``chat_model`` answer from the hits numbered [1]..[k]; citations are the chunks it cites."""
    if not answerable(rank_sentences(question, hits, store.embedder)):
        return abstention(question)  # no passage is close to the question: do not make the model guess
    shown = [chunk_citation(n, hit, store) for n, hit in enumerate(hits, start=1)]
    turns = [(t["question"], t["answer"]) for t in history or []]
    messages = answer_messages(question, numbered_sources(shown), feedback, turns)
    reply = chat_model.invoke(messages, config={"tags": ["citegraph:draft"]})
    text = " ".join(str(reply.content).split())
    if is_abstention(text):
        return abstention(question)
    cited = set(markers(text))
    citations = [c for c in shown if c["n"] in cited]
    return Answer(question=question, answer=text, citations=citations, abstained=False, verified=False)


# -- nodes -----------------------------------------------------------------------------------------


def answer(state: RagState, runtime: Runtime[RagContext]) -> dict[str, Any]:
    """Write a draft answer from the selected passages (extract: cited sentences; generate: the model
    writes it with [n] markers), taking the verifier's or the reviewer's feedback into account."""
    context = runtime.context or RagContext()
    store = pipeline_for(context).store
    hits = state.get("hits", [])
    feedback = state.get("feedback", "")
    if context.strategy == "generate":
        model = load_chat_model(context.model)
        if model is None:
            raise ValueError(f"the generate strategy needs a chat model, not {context.model!r}")
        draft = generated_answer(state["question"], hits, store, model, feedback, state.get("history", []))
    else:
        # A reviewer's feedback says what they want instead: rank the sentences by it too.
        ask = " ".join(filter(None, [state.get("search_question") or state["question"], feedback]))
        # No answerability gate on a re-answer the reviewer asked for: they judge it before it is published.
        gate = 0.0 if feedback else MIN_ANSWER_SCORE
        draft = extractive_answer(
            ask, hits, store, exclude=frozenset(state.get("rejected", [])), min_score=gate
        )
        draft["question"] = state["question"]
    return {"draft": draft, "attempts": state.get("attempts", 0) + 1, "edited": False}


def finalize(state: RagState) -> dict[str, Any]:
    """Publish the checked answer: renumber its citations, stream its text, remember the turn."""
    final = renumbered(state["draft"])
    write = get_stream_writer()
    for piece in re.findall(r"\S+\s*", final["answer"]):
        write({"event": "token", "text": piece})
    return {"answer": final, "history": [Turn(question=state["question"], answer=final["answer"])]}
