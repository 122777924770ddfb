"""The answer agent: turns retrieved chunks into an answer whose every sentence cites its source.

This is the *extract* strategy (no LLM): it picks the sentences of the retrieved chunks closest to the
question and cites each, quoting the exact characters of the source.
"""

from __future__ import annotations

import numpy as np

from citegraph.agents.prompts import ABSTAIN_TEXT
from citegraph.ingest.chunking import sentence_spans
from citegraph.retrieval.store import Hit, HybridStore
from citegraph.retrieval.tokenizer import tokenize
from citegraph.state import Answer, Citation


def location(source_text: str, start: int, end: int, page: int | None) -> str:
    """Human-readable place of a span: the PDF page, else the line range in the source text."""
    if page is not None:
        return f"p. {page}"
    first = source_text.count("\n", 0, start) + 1
    last = first + source_text.count("\n", start, end)
    return f"line {first}" if first == last else f"lines {first}-{last}"


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


def extractive_answer(
    question: str, hits: list[Hit], store: HybridStore, max_sentences: int = 3, min_similarity: float = 0.25
) -> Answer:
    """Answer with the sentences of the retrieved chunks that best match the question, each cited.

    Sentences are ranked by cosine similarity to the question plus 0.3 x the share of question terms
    they contain (so a sentence naming what was asked about wins a near tie). Abstains when nothing was
    retrieved or no sentence is similar enough to the question to be an answer.
    """
    candidates = candidate_sentences(hits)
    picked: list[tuple[Hit, int, int]] = []
    if candidates:
        embedder = store.embedder
        texts = [hit.text[start - hit.start : end - hit.start] for hit, start, end in candidates]
        similarity = embedder.embed_documents(texts) @ embedder.embed_query(question)
        terms = set(tokenize(question))
        overlap = np.array([len(terms & set(tokenize(t))) / max(len(terms), 1) for t in texts])
        scores = similarity + 0.3 * overlap
        picked = [
            candidates[i] for i in np.argsort(-scores)[:max_sentences] if similarity[i] >= min_similarity
        ]
    if not picked:
        return Answer(question=question, answer=ABSTAIN_TEXT, citations=[], abstained=True)

    citations: list[Citation] = []
    sentences: list[str] = []
    source_texts: dict[str, str] = {}
    for n, (hit, start, end) in enumerate(picked, start=1):
        if hit.source_id not in source_texts:
            record = store.source(hit.source_id)
            source_texts[hit.source_id] = record.text if record else hit.text
        source_text = source_texts[hit.source_id]
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
