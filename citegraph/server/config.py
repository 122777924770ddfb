"""Server options (env prefix ``CITEGRAPH_SERVER_``; the API key also as ``CITEGRAPH_API_KEY``)."""

from __future__ import annotations

from typing import Annotated

from pydantic import AliasChoices, Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict


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
    chat_models: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Chat model specs a request may choose, comma-separated (gguf:smollm2,openai:gpt-4o): "
        "/v1/models lists each as <graph>/<spec>, and a request naming one answers with that model.",
    )

    @field_validator("chat_models", mode="before")
    @classmethod
    def _comma_separated(cls, value: object) -> object:
        if isinstance(value, str):
            return [spec.strip() for spec in value.split(",") if spec.strip()]
        return value
