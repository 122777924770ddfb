"""The graphs' run configuration: LangGraph context schemas, shown in Studio's configuration panel.

Plain values only (strings, numbers, switches): a context travels to Studio, into a thread's checkpoint
and across processes. The heavy objects a value names (the store of ``store_dir``, the model of a spec)
are built once per process by ``citegraph.resources`` and ``citegraph.models.registry``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal


@dataclass(kw_only=True)
class RagContext:
    """How one run of the ``rag`` graph answers: strategy and model, passages, fusion, human review."""

    strategy: Literal["extract", "generate"] = field(
        default="extract",
        metadata={
            "description": "extract: no LLM, the answer is the cited sentences of the sources that "
            "answer the question. generate: the chat model `model` writes it with [n] markers."
        },
    )
    model: str = field(
        default="gguf:smollm2",
        metadata={
            "description": "Chat model of the generate strategy, as a spec: gguf:smollm2 (llama.cpp), "
            "gguf:<file>, hf:<dir>, scratch:<dir>, lora:<base>+<adapter>, a provider's model "
            "(openai:gpt-4o-mini, anthropic:claude-sonnet-4-5, ollama:llama3.2; an OpenAI-compatible "
            "server through CITEGRAPH_OPENAI_BASE_URL), or a name an app registered (register_chat_model)."
        },
    )
    top_k: int = field(
        default=5, metadata={"description": "Most passages to draw on (auto top-k may use fewer)."}
    )
    review: bool = field(
        default=False,
        metadata={
            "description": "Pause for a human to approve, edit or reject the answer before it is published."
        },
    )
    bm25_weight: float = field(
        default=1.0, metadata={"description": "Weight of the keyword (BM25) rankings in rank fusion."}
    )
    dense_weight: float = field(
        default=1.0, metadata={"description": "Weight of the embedding (dense) rankings in rank fusion."}
    )
    multi_query: bool = field(
        default=True,
        metadata={"description": "Also search the question's keyword form and its sub-questions."},
    )
    max_retries: int = field(
        default=1,
        metadata={
            "description": "Rewrites of a generated answer after the verifier rejects some of its sentences."
        },
    )
    store_dir: str = field(
        default="",
        metadata={
            "description": "The document store to answer from; empty: CITEGRAPH_STORE_DIR or the default."
        },
    )
    pipeline: str = field(
        default="",
        metadata={
            "description": "Name of a retrieval pipeline an app registered with "
            "citegraph.resources.register_pipeline; empty: the store's own."
        },
    )


@dataclass(kw_only=True)
class AssistantContext:
    """How one turn of the ``assistant`` graph plans and runs its tool calls."""

    planner_model: str = field(
        default="extractive",
        metadata={
            "description": "extractive: plan by rules and embedding similarity (no LLM); else a chat model "
            "spec (gguf:smollm2, openai:gpt-4o-mini, ... as for the rag graph's `model`) that plans with "
            "tool calls or a JSON plan."
        },
    )
    router: Literal["hybrid", "rules", "embedding"] = field(
        default="hybrid",
        metadata={"description": "How the no-LLM planner routes a request: rules, embeddings, or both."},
    )
    approve_plan: bool = field(
        default=False,
        metadata={
            "description": "Ask a human to approve, edit or reject each plan (sensitive calls always ask)."
        },
    )
    max_steps: int = field(default=5, metadata={"description": "Tool calls per request, revisions included."})
    revise: bool = field(
        default=True,
        metadata={
            "description": "Let the planner add steps once after seeing the outcomes (e.g. an abstention)."
        },
    )
    top_k: int = field(default=3, metadata={"description": "Passages per cited answer."})
    rag_model: str = field(
        default="extractive",
        metadata={
            "description": "Answer model of the cited_answer tool, a spec as for the rag graph's `model` "
            "(extractive: no LLM)."
        },
    )
    store_dir: str = field(
        default="",
        metadata={
            "description": "The document store the tools use; empty: CITEGRAPH_STORE_DIR or the default."
        },
    )
    today: str = field(
        default="",
        metadata={
            "description": "ISO date the current_date tool reports (tests, replays); empty: the real date."
        },
    )
