"""Tools over the knowledge base: search, cited answers (the ``rag`` graph), listing, summaries, removal.

Each tool returns ``(content, artifact)``: ``content`` is what a model may read, with document text fenced
as data (``<passage>``); ``artifact`` is the structured result the assistant's final answer is built from,
with citations in the answer JSON's format ``{n, chunk_id, source, location, quote, start, end}``.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
from langchain_core.tools import ToolException, tool
from pydantic import BaseModel, Field

from citegraph.answers import Citation, cite
from citegraph.ingest.chunking import sentence_spans
from citegraph.retrieval.store import Hit
from citegraph.retrieval.tokenizer import tokenize
from citegraph.tools.env import OptionalToolRuntime, RuntimeOnly, ToolEnv, env_from_runtime, resolve_source

MAX_QUERY_CHARS = 500


def fence(text: str, **attributes: object) -> str:
    """Document text as inert data for a model: one ``<passage>`` block, with any tag inside defused."""
    safe = text.replace("<", "‹").replace(">", "›")
    attrs = " ".join(f'{k}="{str(v).replace(chr(34), "")}"' for k, v in attributes.items())
    return f"<passage {attrs}>\n{safe}\n</passage>"


def _query(text: str, what: str = "query") -> str:
    text = " ".join(str(text or "").split())
    if not text:
        raise ToolException(f"the {what} is empty")
    if len(text) > MAX_QUERY_CHARS:
        raise ToolException(f"the {what} is too long ({len(text)} characters, at most {MAX_QUERY_CHARS})")
    return text


def _best_sentence(hit: Hit, terms: set[str]) -> tuple[int, int]:
    """Source offsets of the sentence of ``hit`` sharing the most terms with the query (ties: earliest)."""
    spans = [(a, b) for a, b in sentence_spans(hit.text) if len(hit.text[a:b].split()) >= 4]
    if not spans:
        return hit.start, hit.end
    a, b = max(spans, key=lambda s: (len(terms & set(tokenize(hit.text[s[0] : s[1]]))), -s[0]))
    return hit.start + a, hit.start + b


# -- search_documents ---------------------------------------------------------------------------------
class SearchArgs(BaseModel):
    query: str = Field(description="What to look for in the documents.")
    k: int = Field(3, ge=1, le=10, description="How many passages to return.")


def search_documents_impl(env: ToolEnv, query: str, k: int = 3) -> tuple[str, dict]:
    query = _query(query)
    hits = env.store.search(query, k=k)
    terms = set(tokenize(query))
    citations: list[Citation] = []
    blocks, sentences = [], []
    texts: dict[str, str] = {}
    for n, hit in enumerate(hits, start=1):
        if hit.source_id not in texts:
            record = env.store.source(hit.source_id)
            texts[hit.source_id] = record.text if record else ""
        text = texts[hit.source_id] or " " * hit.start + hit.text
        start, end = _best_sentence(hit, terms)
        citations.append(cite(n, hit.chunk_id, hit.source, text, start, end, hit.page))
        sentences.append(f"{' '.join(text[start:end].split())} [{n}]")
        blocks.append(fence(hit.text, n=n, id=hit.chunk_id, source=Path(hit.source).name))
    content = f"{len(hits)} passages for {query!r}:\n" + "\n".join(blocks) if hits else "No passages found."
    artifact = {
        "query": query,
        "hits": [
            {"chunk_id": h.chunk_id, "source": h.source, "title": h.title, "score": h.score, "text": h.text}
            for h in hits
        ],
        "answer": " ".join(sentences),
        "citations": citations,
    }
    return content, artifact


@tool(args_schema=SearchArgs, response_format="content_and_artifact")
def search_documents(query: str, k: int = 3, runtime: OptionalToolRuntime = None) -> tuple[str, dict]:
    """Find passages in the user's documents (hybrid keyword + semantic search). Returns each passage with
    its chunk id and source. Use it to find, quote or locate text, not to answer a question."""
    return search_documents_impl(env_from_runtime(runtime), query, k)


# -- cited_answer (the rag graph as a subgraph) --------------------------------------------------------
class QuestionArgs(BaseModel):
    question: str = Field(description="A self-contained question about the documents.")


def cited_answer_impl(env: ToolEnv, question: str) -> tuple[str, dict]:
    from citegraph.context import RagContext
    from citegraph.graphs.rag import graph as rag_graph

    question = _query(question, "question")
    wanted = {"top_k": env.top_k, "store_dir": str(env.store.dir), "model": env.rag_model, "review": False}
    fields = {f.name for f in dataclasses.fields(RagContext)}
    context = RagContext(**{k: v for k, v in wanted.items() if k in fields})
    state = rag_graph.invoke({"question": question}, context=context)
    answer = dict(state["answer"])
    blocks = [fence(c["quote"], n=c["n"], source=Path(c["source"]).name) for c in answer.get("citations", [])]
    content = answer["answer"] + ("\n" + "\n".join(blocks) if blocks else "")
    return content, answer


@tool(args_schema=QuestionArgs, response_format="content_and_artifact")
def cited_answer(question: str, runtime: OptionalToolRuntime = None) -> tuple[str, dict]:
    """Answer a question from the user's documents, citing a source for every sentence (or saying the
    documents do not say). Use it for any question about what the documents say."""
    return cited_answer_impl(env_from_runtime(runtime), question)


# -- list_sources -------------------------------------------------------------------------------------
def list_sources_impl(env: ToolEnv) -> tuple[str, dict]:
    counts = env.store.manifest.chunk_counts()
    rows = [
        {"source": s.path, "title": s.title, "kind": s.kind, "chunks": counts.get(s.source_id, 0)}
        for s in env.store.sources()
    ]
    if not rows:
        return "The knowledge base is empty.", {"sources": []}
    lines = [f"- {Path(r['source']).name} ({r['title']}, {r['kind']}, {r['chunks']} chunks)" for r in rows]
    return f"{len(rows)} sources:\n" + "\n".join(lines), {"sources": rows}


@tool(args_schema=RuntimeOnly, response_format="content_and_artifact")
def list_sources(runtime: OptionalToolRuntime = None) -> tuple[str, dict]:
    """List the documents the knowledge base holds (file, title, kind, number of chunks)."""
    return list_sources_impl(env_from_runtime(runtime))


# -- summarize_source ---------------------------------------------------------------------------------
class SummarizeArgs(BaseModel):
    source: str = Field(description="The document: its file name, path or title (see list_sources).")
    sentences: int = Field(4, ge=1, le=10, description="How many sentences the summary has.")


def summarize_source_impl(env: ToolEnv, source: str, sentences: int = 4) -> tuple[str, dict]:
    """Extractive: the chunks closest to the document's mean embedding (diversified with MMR, from the
    stored vectors, nothing re-embedded), and from each the sentence closest to that mean; in text order."""
    record = resolve_source(env.store, _query(source, "source name"))
    ids = sorted(env.store.manifest.chunk_ids([record.source_id]))
    chunks = sorted(env.store.manifest.chunks(ids), key=lambda c: c.ordinal)
    if not chunks:
        raise ToolException(f"{Path(record.path).name} has no text to summarize")
    vectors = env.store.embeddings([c.chunk_id for c in chunks])
    centre = vectors.mean(axis=0)
    centre /= np.linalg.norm(centre) or 1.0
    relevance = vectors @ centre
    picked: list[int] = []
    while len(picked) < min(sentences, len(chunks)):
        redundancy = (vectors @ vectors[picked].T).max(axis=1) if picked else np.zeros(len(chunks))
        score = 0.7 * relevance - 0.3 * redundancy
        score[picked] = -np.inf
        picked.append(int(np.argmax(score)))
    embedder = env.store.embedder
    citations: list[Citation] = []
    parts = []
    for n, i in enumerate(sorted(picked), start=1):
        chunk = chunks[i]
        spans = [(a, b) for a, b in sentence_spans(chunk.text) if len(chunk.text[a:b].split()) >= 6]
        spans = spans or [(0, len(chunk.text))]
        sims = embedder.embed_documents([chunk.text[a:b] for a, b in spans]) @ centre
        a, b = spans[int(np.argmax(sims))]
        start, end = chunk.start + a, chunk.start + b
        citations.append(cite(n, chunk.chunk_id, record.path, record.text, start, end, chunk.page))
        parts.append(f"{' '.join(record.text[start:end].split())} [{n}]")
    text = " ".join(parts)
    content = f"Summary of {Path(record.path).name} ({record.title}):\n" + "\n".join(
        fence(c["quote"], n=c["n"]) for c in citations
    )
    return content, {"source": record.path, "title": record.title, "answer": text, "citations": citations}


@tool(args_schema=SummarizeArgs, response_format="content_and_artifact")
def summarize_source(
    source: str, sentences: int = 4, runtime: OptionalToolRuntime = None
) -> tuple[str, dict]:
    """Summarize one document of the knowledge base in a few cited sentences quoted from it."""
    return summarize_source_impl(env_from_runtime(runtime), source, sentences)


# -- remove_source (sensitive) ------------------------------------------------------------------------
class RemoveArgs(BaseModel):
    source: str = Field(description="The exact file name, path or title of the document to remove.")


def remove_source_impl(env: ToolEnv, source: str) -> tuple[str, dict]:
    from citegraph.ingest.pipeline import remove_paths

    record = resolve_source(env.store, _query(source, "source name"), exact=True)
    report = remove_paths(env.store, [record.path])
    if not report.ok:
        raise ToolException(f"could not remove {record.path}: {report.failed[0].reason}")
    return f"Removed {Path(record.path).name} from the knowledge base.", {"removed": [record.path]}


@tool(args_schema=RemoveArgs, response_format="content_and_artifact")
def remove_source(source: str, runtime: OptionalToolRuntime = None) -> tuple[str, dict]:
    """Delete one document from the knowledge base. Sensitive: runs only after a human approves the call."""
    # In a graph (runtime injected: a model chose the call) it runs only for a call id the human approved
    # (the assistant's approval step records it in state). Invoked directly, outside a graph, no model is
    # involved: the program calling it is the one deciding, as with `citegraph ingest --remove`.
    if runtime is not None:
        state = getattr(runtime, "state", None) or {}
        call_id = getattr(runtime, "tool_call_id", None)
        if call_id is None or call_id not in (state.get("approved_calls") or []):
            raise ToolException("remove_source needs a human's approval for this call; it was not approved")
    return remove_source_impl(env_from_runtime(runtime), source)
