"""One Settings object for every part of CiteGraph (env prefix ``CITEGRAPH_``).

Every value can be set in the environment (``CITEGRAPH_STORE_DIR=/data/store``), in a ``.env`` file
in the working directory, or by passing keyword arguments (``Settings(chunk_size=500)``).
"""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import AliasChoices, Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

# Nothing in CiteGraph may reach a model hub or phone home; set these before any HF/Chroma import.
OFFLINE_ENV = {
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "ANONYMIZED_TELEMETRY": "False",
    "ORT_DISABLE_TELEMETRY": "1",
    "TOKENIZERS_PARALLELISM": "false",
}


def force_offline() -> None:
    """Set the offline switches for Hugging Face and Chroma in this process.

    The one place that sets them: ``import citegraph`` calls it, and so does every code path that loads
    a model (embedder, causal LMs, LoRA bases, the scratch model), in case something cleared them since.
    A child process gets ``OFFLINE_ENV`` in its environment."""
    for key, value in OFFLINE_ENV.items():
        os.environ[key] = value


def default_store_dir() -> Path:
    """``$XDG_DATA_HOME/citegraph/store``, i.e. ``~/.local/share/citegraph/store`` on most systems."""
    data_home = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(data_home) / "citegraph" / "store"


class Settings(BaseSettings):
    """Configuration shared by ingestion, retrieval, agents, the CLI and the server."""

    model_config = SettingsConfigDict(env_prefix="CITEGRAPH_", env_file=".env", extra="ignore")

    store_dir: Path = Field(
        default_factory=default_store_dir, description="Where Chroma, BM25 and the manifest live."
    )
    collection: str = Field("citegraph", pattern=r"^[a-zA-Z0-9][a-zA-Z0-9._-]{1,510}[a-zA-Z0-9]$")
    embedding_model: Path | None = Field(
        None, description="Local sentence-transformers folder; default: the bundled all-MiniLM-L6-v2."
    )
    judge_model: Path | None = Field(
        None,
        description="Folder of a judge trained by `citegraph train judge`; default: the shipped one.",
    )
    # Measured on 2 cores: batches of 8-16 embed ~40% faster than 64 (less padding, better cache use).
    embed_batch_size: int = Field(16, ge=1)

    # Chunking: sizes in characters. ~800 characters stays under MiniLM's 256-token window.
    chunk_size: int = Field(800, ge=100)
    chunk_overlap: int = Field(120, ge=0)
    max_file_mb: float = Field(200.0, gt=0, description="Files larger than this are refused.")

    openai_base_url: str = Field(
        "",
        validation_alias=AliasChoices("CITEGRAPH_OPENAI_BASE_URL", "OPENAI_BASE_URL", "openai_base_url"),
        description="Base URL of an OpenAI-compatible server (vLLM, llama.cpp, LM Studio, Ollama's /v1) that "
        "openai:<model> specs talk to, e.g. http://localhost:8000/v1; empty: OpenAI's API.",
    )
    chroma_url: str = Field(
        "", description="Empty: embedded Chroma in the store directory; http://host:port: a Chroma server."
    )
    # Conversations and review interrupts persist here: empty means a SQLite file in the store directory.
    checkpoint_url: str = Field(
        "", description="Empty (SQLite beside the store), a SQLite file path, or a postgresql:// URL."
    )

    # Search.
    top_k: int = Field(5, ge=1, le=100)
    candidates: int = Field(
        50, ge=1, description="How many hits each of BM25 and dense contributes to fusion."
    )
    bm25_weight: float = Field(1.0, ge=0)
    dense_weight: float = Field(1.0, ge=0)
    max_query_chars: int = Field(2000, ge=10)

    # Retrieval pipeline (normalize -> multi-query -> fusion -> selection). Defaults chosen on SciFact's
    # train queries (benchmarks/retrieval_tune.py), never on its test queries.
    multi_query: bool = Field(
        True, description="Search deterministic variants (keyword form, sub-questions)."
    )
    keyword_weight: float = Field(0.5, ge=0, description="Fusion weight of the keyword-form variant.")
    keywords_for_questions_only: bool = Field(
        True, description="Make the keyword form only of questions, not of statements or claims."
    )
    subquestion_weight: float = Field(0.5, ge=0, description="Fusion weight of each sub-question.")
    paraphrase_weight: float = Field(0.5, ge=0, description="Fusion weight of each LLM paraphrase.")
    paraphrases: int = Field(3, ge=0, le=10, description="LLM paraphrases when a chat model is configured.")
    llm_rewrite: bool = Field(True, description="Let a configured chat model rewrite the query too.")
    spell_check: bool = Field(False, description="Correct query words unknown to the corpus vocabulary.")
    prf: bool = Field(True, description="Pseudo-relevance feedback from the first-pass top chunks.")
    prf_docs: int = Field(3, ge=1, le=50, description="Feedback chunks for PRF.")
    prf_terms: int = Field(10, ge=0, le=100, description="BM25 expansion terms added by PRF.")
    prf_term_weight: float = Field(1.0, ge=0, description="Weight of expansion terms vs. query terms.")
    prf_beta: float = Field(1.0, ge=0, description="Dense PRF (Rocchio): query + beta x mean(feedback).")
    prf_bm25_weight: float = Field(1.0, ge=0, description="Fusion weight of the PRF BM25 ranking.")
    prf_dense_weight: float = Field(1.0, ge=0, description="Fusion weight of the PRF dense ranking.")
    mmr: bool = Field(True, description="Diversify the selected chunks with MMR.")
    mmr_lambda: float = Field(0.95, ge=0, le=1, description="MMR trade-off: 1 = relevance only.")
    mmr_pool: int = Field(30, ge=1, description="Fused candidates MMR chooses from.")
    # Off by default: under reciprocal rank fusion it never cut (5.00 passages per question on SQuAD v1.1
    # train), while fused scores have real gaps and it cut to one passage where the answer needs more (a
    # reviewer's "Where was she born?" had no passage left to answer from).
    auto_k: bool = Field(False, description="Stop selecting at a relevance gap (between min_k and max_k).")
    min_k: int = Field(1, ge=1)
    max_k: int = Field(10, ge=1, le=100)
    auto_k_ratio: float = Field(0.3, ge=0, le=1, description="Keep chunks scoring >= ratio x the best.")
    auto_k_drop: float = Field(0.5, ge=0, le=1, description="A drop by this fraction is a relevance gap.")
    similarity_floor: float = Field(
        0.1, ge=-1, le=1, description="Drop selected chunks whose cosine to the query is below this."
    )
    fusion_depth: int = Field(
        200, ge=1, le=1000, description="Chunks each ranking of the pipeline contributes to fusion."
    )
    bm25_source_weight: float = Field(
        1.5,
        ge=0,
        description="BM25 document prior: a chunk's BM25 score plus this x its whole source's BM25 score.",
    )
    dense_exact_max_chunks: int = Field(
        100_000,
        ge=0,
        description="Stores with at most this many chunks keep their vectors in memory for exact dense "
        "search (~1.5 KB per chunk at 384-d); larger ones query Chroma's HNSW index. 0: always Chroma.",
    )
    non_english_dense_weight: float = Field(
        0.3, ge=0, description="Dense weight factor for non-English queries (the bundled model is English)."
    )

    @model_validator(mode="after")
    def _overlap_below_size(self) -> Settings:
        if self.chunk_overlap >= self.chunk_size:
            raise ValueError(
                f"chunk_overlap ({self.chunk_overlap}) must be below chunk_size ({self.chunk_size})"
            )
        return self
