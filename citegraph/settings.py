"""One Settings object for every part of CiteGraph (env prefix ``CITEGRAPH_``).

Every value can be set in the environment (``CITEGRAPH_STORE_DIR=/data/store``), in a ``.env`` file
in the working directory, or by passing keyword arguments (``Settings(chunk_size=500)``).
"""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import Field, model_validator
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
    """Set the offline switches for Hugging Face and Chroma in this process."""
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
    # Measured on 2 cores: batches of 8-16 embed ~40% faster than 64 (less padding, better cache use).
    embed_batch_size: int = Field(16, ge=1)

    # Chunking: sizes in characters. ~800 characters stays under MiniLM's 256-token window.
    chunk_size: int = Field(800, ge=100)
    chunk_overlap: int = Field(120, ge=0)
    max_file_mb: float = Field(200.0, gt=0, description="Files larger than this are refused.")

    # Search.
    top_k: int = Field(5, ge=1, le=100)
    candidates: int = Field(
        50, ge=1, description="How many hits each of BM25 and dense contributes to fusion."
    )
    rrf_k: int = Field(60, ge=1)
    bm25_weight: float = Field(1.0, ge=0)
    dense_weight: float = Field(1.0, ge=0)
    max_query_chars: int = Field(2000, ge=10)

    @model_validator(mode="after")
    def _overlap_below_size(self) -> Settings:
        if self.chunk_overlap >= self.chunk_size:
            raise ValueError(
                f"chunk_overlap ({self.chunk_overlap}) must be below chunk_size ({self.chunk_size})"
            )
        return self
