"""Server options (env prefix ``CITEGRAPH_SERVER_``; the API key also as ``CITEGRAPH_API_KEY``)."""

from __future__ import annotations

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class ServerConfig(BaseSettings):
    """How the HTTP API guards itself: auth and request limits."""

    model_config = SettingsConfigDict(env_prefix="CITEGRAPH_SERVER_", extra="ignore")

    api_key: str = Field(
        "",
        validation_alias=AliasChoices("CITEGRAPH_API_KEY", "CITEGRAPH_SERVER_API_KEY", "api_key"),
        description="Bearer token every /v1 and /api request must carry; empty: no auth.",
    )
    max_body_kb: int = Field(1024, ge=1, description="Largest JSON request body.")
    max_upload_mb: float = Field(50.0, gt=0, description="Largest upload request (all files together).")
    max_messages: int = Field(256, ge=1, description="Most messages in one chat request.")
    default_review: bool = Field(False, description="Pause every answer for a human review by default.")
