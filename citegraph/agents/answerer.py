"""The answer agent: turns retrieved chunks into an answer whose every sentence cites its source.

This is the *extract* strategy (no LLM): for each of the best chunks it picks the sentence closest to the
question and cites it, quoting the exact characters of the source.
"""

from __future__ import annotations

import numpy as np

from citegraph.ingest.chunking import sentence_spans
from citegraph.retrieval.embeddings import Embedder
from citegraph.retrieval.store import Hit, HybridStore
from citegraph.retrieval.tokenizer import tokenize
from citegraph.state import Answer, Citation

ABSTAIN_TEXT = "The documents do not say."


def location(source_text: str, start: int, end: int, page: int | None) -> str:
    """Human-readable place of a span: the PDF page, else the line range in the source text."""
    if page is not None:
        return f"p. {page}"
    first = source_text.count("\n", 0, start) + 1
    last = first + source_text.count("\n", start, end)
    return f"line {first}" if first == last else f"lines {first}-{last}"


def best_sentence(
    question: str, question_vec: np.ndarray, hit: Hit, embedder: Embedder
) -> tuple[int, int, float]:
    """The span (source offsets) of the sentence in ``hit`` that best matches the question, and its score.

    Score = cosine similarity of embeddings + 0.1 x share of question terms the sentence contains, so a
    sentence naming the asked-about entity wins a near tie.
    """
    # A question in the text ("And what of Irene Adler?") is never an answer to one.
    spans = [(a, b) for a, b in sentence_spans(hit.text) if not hit.text[a:b].rstrip("\"'”’) ").endswith("?")]
    if not spans:
        return hit.start, hit.start, float("-inf")
    sentences = [hit.text[a:b] for a, b in spans]
    vectors = embedder.embed_documents(sentences)
    terms = set(tokenize(question))
    overlap = np.array([len(terms & set(tokenize(s))) / max(len(terms), 1) for s in sentences])
    scores = vectors @ question_vec + 0.1 * overlap
    best = int(np.argmax(scores))
    start, end = spans[best]
    return hit.start + start, hit.start + end, float(scores[best])


def extractive_answer(
    question: str, hits: list[Hit], store: HybridStore, max_sentences: int = 3, min_similarity: float = 0.25
) -> Answer:
    """Answer with the best-matching sentence of each of the top chunks, each followed by its [n].

    Abstains when nothing was retrieved or no sentence is similar enough to the question to be an answer.
    """
    embedder = store.embedder
    question_vec = embedder.embed_query(question)
    picked: list[tuple[Hit, int, int]] = []
    for hit in hits:
        start, end, score = best_sentence(question, question_vec, hit, embedder)
        if score >= min_similarity:
            picked.append((hit, start, end))
        if len(picked) == max_sentences:
            break
    if not picked:
        return Answer(question=question, answer=ABSTAIN_TEXT, citations=[], abstained=True)

    citations: list[Citation] = []
    sentences: list[str] = []
    texts: dict[str, str] = {}
    for n, (hit, start, end) in enumerate(picked, start=1):
        if hit.source_id not in texts:
            record = store.source(hit.source_id)
            texts[hit.source_id] = record.text if record else hit.text
        source_text = texts[hit.source_id]
        quote = source_text[start:end]
        citations.append(
            Citation(
                n=n,
                chunk_id=hit.chunk_id,
                source=hit.source,
                location=location(source_text, start, end, hit.page),
                quote=quote,
                start=start,
                end=end,
            )
        )
        sentences.append(f"{' '.join(quote.split())} [{n}]")
    return Answer(question=question, answer=" ".join(sentences), citations=citations, abstained=False)
