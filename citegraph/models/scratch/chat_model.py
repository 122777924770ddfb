"""The scratch model as a LangChain chat model, so ``scratch:DIR`` works wherever a graph takes a model spec.

Chat formatting is deliberately plain text, because the model is trained on plain prose and has no chat
special tokens. Messages become one line-prefixed turn each and the prompt ends with the assistant's cue::

    System: You answer from the sources.
    User: Who is Irene Adler?
    Assistant:

The reply is what the model writes after ``Assistant:``, cut at the next turn marker (``\\nUser:``,
``\\nSystem:``) or any caller stop sequence, and stripped of surrounding whitespace. A model trained only
on a corpus will continue in the corpus' style rather than follow instructions; the citation verifier
downstream rejects what it cannot support, which is the expected behaviour for such a small model.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.messages.ai import UsageMetadata
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from pydantic import Field, PrivateAttr

from citegraph.models.local_chat import LocalChatModel
from citegraph.settings import force_offline

SPEC_PREFIX = "scratch:"
ROLE_NAMES = {"system": "System", "human": "User", "ai": "Assistant", "tool": "Tool"}
TURN_STOPS = ["\nUser:", "\nSystem:"]


def _text(message: BaseMessage) -> str:
    """A message's text; list contents keep their text parts only (the model reads nothing else)."""
    if isinstance(message.content, str):
        return message.content
    parts = [p if isinstance(p, str) else p.get("text", "") for p in message.content]
    return "".join(p for p in parts if p)


def format_chat(messages: list[BaseMessage]) -> str:
    """Render messages in the plain ``Role: text`` format above, ending with ``Assistant:``."""
    lines = [f"{ROLE_NAMES.get(m.type, m.type.capitalize())}: {_text(m).strip()}" for m in messages]
    return "\n".join([*lines, "Assistant:"])


class ScratchChatModel(LocalChatModel):
    """A chat model backed by a checkpoint directory written by ``citegraph train scratch``."""

    model_dir: str
    temperature: float = 0.7
    max_tokens: int = 256
    top_k: int | None = 50
    top_p: float | None = 0.95
    repetition_penalty: float = 1.1
    seed: int | None = None
    device: str = "cpu"
    stop: list[str] = Field(default_factory=list)

    _model: Any = PrivateAttr(default=None)
    _tokenizer: Any = PrivateAttr(default=None)

    def model_post_init(self, context: Any, /) -> None:
        # Load once here, not per call (the house rule: models are built once and passed in).
        from citegraph.models.scratch.generate import load_model

        self._model, self._tokenizer = load_model(self.model_dir, device=self.device)

    @property
    def _llm_type(self) -> str:
        return "citegraph-scratch"

    @property
    def _identifying_params(self) -> dict[str, Any]:
        return {
            "model_dir": self.model_dir,
            "temperature": self.temperature,
            "max_tokens": self.max_tokens,
            "top_k": self.top_k,
            "top_p": self.top_p,
            "repetition_penalty": self.repetition_penalty,
        }

    def _sampling(self, stop: list[str] | None, **kwargs: Any):
        from citegraph.models.scratch.generate import SamplingConfig

        return SamplingConfig(
            max_new_tokens=kwargs.get("max_tokens", self.max_tokens),
            temperature=kwargs.get("temperature", self.temperature),
            top_k=kwargs.get("top_k", self.top_k),
            top_p=kwargs.get("top_p", self.top_p),
            repetition_penalty=kwargs.get("repetition_penalty", self.repetition_penalty),
            stop=[*TURN_STOPS, *self.stop, *(stop or [])],
            seed=kwargs.get("seed", self.seed),
        )

    @property
    def model_name(self) -> str:
        """The spec that names this model (``scratch:DIR``): its name in traces and response metadata."""
        return f"{SPEC_PREFIX}{self.model_dir}"

    def _pieces(self, prompt: str, stop: list[str] | None, **kwargs: Any) -> Iterator[str]:
        """Reply text pieces with leading whitespace dropped (the model usually starts with a space)."""
        from citegraph.models.scratch.generate import stream_text

        started = False
        for piece in stream_text(self._model, self._tokenizer, prompt, self._sampling(stop, **kwargs)):
            if not started:
                piece = piece.lstrip()
                started = bool(piece)
            if piece:
                yield piece

    def _usage(self, prompt: str, reply: str) -> UsageMetadata:
        """Token counts of the prompt and the reply, as the model's tokenizer encodes them."""
        prompt_tokens, reply_tokens = len(self._tokenizer.encode(prompt)), len(self._tokenizer.encode(reply))
        return UsageMetadata(
            input_tokens=prompt_tokens, output_tokens=reply_tokens, total_tokens=prompt_tokens + reply_tokens
        )

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        prompt = format_chat(messages)
        text = "".join(self._pieces(prompt, stop, **kwargs)).rstrip()
        message = AIMessage(
            content=text,
            response_metadata={"model_name": self.model_name},
            usage_metadata=self._usage(prompt, text),
        )
        return ChatResult(generations=[ChatGeneration(message=message)])

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        prompt = format_chat(messages)
        reply = ""
        for piece in self._pieces(prompt, stop, **kwargs):
            reply += piece
            chunk = ChatGenerationChunk(message=AIMessageChunk(content=piece))
            if run_manager:
                run_manager.on_llm_new_token(piece, chunk=chunk)
            yield chunk
        # The last chunk carries what is known only at the end, as hosted models' streams do.
        last = AIMessageChunk(
            content="",
            response_metadata={"model_name": self.model_name},
            usage_metadata=self._usage(prompt, reply.rstrip()),
            chunk_position="last",
        )
        yield ChatGenerationChunk(message=last)


def load_chat_model(spec: str, **kwargs: Any) -> ScratchChatModel:
    """Resolve ``scratch:DIR`` to a :class:`ScratchChatModel` (keyword arguments set sampling options).

    Raises ``ValueError`` for a spec that is not ``scratch:...`` and ``ModelNotFoundError`` (a
    ``FileNotFoundError``) for a directory that does not exist or holds no checkpoint.
    """
    force_offline()  # local weights only: never reach a model hub
    if not spec.startswith(SPEC_PREFIX):
        raise ValueError(f"not a scratch model spec: {spec!r} (expected 'scratch:DIR')")
    directory = spec[len(SPEC_PREFIX) :].strip()
    if not directory:
        raise ValueError("empty directory in model spec 'scratch:' (expected 'scratch:DIR')")
    return ScratchChatModel(model_dir=str(Path(directory).expanduser()), **kwargs)
