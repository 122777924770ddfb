"""Request bodies (OpenAI's chat shape, plus CiteGraph's own fields) and the native endpoints' bodies."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

THREAD_ID = r"^[A-Za-z0-9._:@+\-]{1,200}$"


class ContentPart(BaseModel):
    model_config = ConfigDict(extra="allow")
    type: str
    text: str | None = None


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="allow")
    role: Literal["system", "developer", "user", "assistant", "tool", "function"]
    content: str | list[ContentPart] | None = None

    def text(self) -> str:
        if isinstance(self.content, list):
            return "\n".join(part.text or "" for part in self.content if part.type == "text")
        return self.content or ""


class ChatCompletionRequest(BaseModel):
    """``POST /v1/chat/completions``. Sampling fields OpenAI clients send (temperature, ...) are accepted and
    ignored; CiteGraph's own fields travel in the body too (``extra_body`` in the openai client)."""

    model_config = ConfigDict(extra="allow")
    model: str = Field(min_length=1, max_length=200)
    messages: list[ChatMessage] = Field(min_length=1)
    stream: bool = False
    n: int = Field(1, ge=1, le=1, description="One answer per request.")
    user: str | None = Field(None, max_length=200, description="Maps to a thread when thread_id is absent.")
    thread_id: str | None = Field(None, pattern=THREAD_ID, description="The conversation to continue.")
    review: bool | None = Field(None, description="Pause the answer for a human review.")
    strategy: Literal["extract", "generate"] | None = None
    top_k: int | None = Field(None, ge=1, le=20)

    def question(self) -> str:
        """The last user message: what to answer (earlier turns live in the thread's checkpoint)."""
        last = self.messages[-1]
        if last.role != "user":
            from citegraph.server.errors import ApiError

            raise ApiError(400, "the last message must come from the user", param="messages")
        return last.text()


class ReviewDecision(BaseModel):
    """``POST /api/threads/{id}/review``: what the human decided about the draft."""

    action: Literal["approve", "edit", "reject"]
    text: str | None = Field(None, max_length=100_000, description="The edited answer (edit).")
    feedback: str | None = Field(None, max_length=10_000, description="Why it was rejected (reject).")

    @model_validator(mode="after")
    def _text_for_edit(self) -> ReviewDecision:
        if self.action == "edit" and not (self.text or "").strip():
            raise ValueError("an edit needs the edited answer in 'text'")
        return self

    def payload(self) -> dict[str, Any]:
        if self.action == "edit":
            return {"action": "edit", "text": self.text}
        if self.action == "reject":
            return {"action": "reject", "feedback": self.feedback or ""}
        return {"action": "approve"}
