"""Several named LoRA adapters on one base in memory, a chat model per agent, and merge-and-export.

``lora:<base>+<dir>[,<dir>...][@<name>]`` loads every listed adapter (name = directory name) onto ONE shared
copy of the base; the chat model it returns is bound to ``name`` (default: the first listed). Another spec
over the same base reuses that copy and adds its adapters, so the ``answer`` agent on
``lora:smollm2+adapters/answer,adapters/planner`` and the planner on
``lora:smollm2+adapters/planner,adapters/answer`` share one base and switch with ``set_adapter``.

PEFT has one active adapter per model, so a generation holds the base's lock from ``set_adapter`` to the
last token: two agents never interleave adapters mid-answer. The name ``base`` runs with adapters disabled.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult

from citegraph import resources
from citegraph.errors import ModelNotFoundError
from citegraph.models.local_chat import LocalChatModel
from citegraph.models.lora.loading import AdapterMismatchError, check_adapter_matches, load_base
from citegraph.settings import force_offline

BASE_ADAPTER = "base"  # run the shared base with every adapter disabled
TASK_FILE = "citegraph_task.json"  # what an adapter was trained for ({"task": "plan", ...}), when it says
SPEC_FORM = "lora:<base>+<adapter dir>[,<adapter dir>...][@<adapter name>]"


@dataclass(frozen=True)
class LoraSpec:
    """A parsed ``lora:`` spec (without the prefix)."""

    base: str
    adapters: tuple[Path, ...]
    active: str  # adapter name the chat model is bound to


def parse_lora_spec(rest: str) -> LoraSpec:
    """``<base>+<dir>[,<dir>...][@<name>]`` -> LoraSpec (ValueError when malformed)."""
    base, plus, listed = rest.strip().partition("+")
    listed, _, active = listed.partition("@")
    adapters = tuple(Path(p.strip()).expanduser() for p in listed.split(",") if p.strip())
    if not plus or not base.strip() or not adapters:
        raise ValueError(f"lora spec {rest!r} does not resolve: expected {SPEC_FORM}")
    names = [a.name for a in adapters]
    active = active.strip() or names[0]
    if active not in [*names, BASE_ADAPTER]:
        raise ValueError(f"lora spec {rest!r} selects adapter {active!r}, which it does not list ({names})")
    return LoraSpec(base.strip(), adapters, active)


@dataclass
class SharedBase:
    """One base model with its named adapters; ``generating_with`` switches between them under a lock."""

    location: str
    model: Any  # a PeftModel once the first adapter is loaded, else the plain base
    tokenizer: Any
    adapters: dict[str, Path] = field(default_factory=dict)
    lock: threading.RLock = field(default_factory=threading.RLock)

    def add_adapter(self, directory: Path) -> str:
        """Load the adapter in ``directory`` (name = directory name) unless it is already loaded."""
        directory = Path(directory).expanduser()
        if not directory.is_dir():
            raise ModelNotFoundError(f"adapter directory does not exist: {directory}")
        name = directory.name
        if name == BASE_ADAPTER:
            raise ValueError(f"an adapter may not be called {BASE_ADAPTER!r} (it means: no adapter)")
        with self.lock:
            if name in self.adapters:
                if self.adapters[name].resolve() != directory.resolve():
                    raise ValueError(
                        f"two adapters named {name!r} ({self.adapters[name]} and {directory}) on one base"
                    )
                return name
            check_adapter_matches(directory, self._base_model())
            try:
                if not self.adapters:
                    from peft import PeftModel

                    self.model = PeftModel.from_pretrained(self.model, str(directory), adapter_name=name)
                else:
                    self.model.load_adapter(str(directory), adapter_name=name)
            except RuntimeError as error:  # PEFT reports shape mismatches as size-mismatch RuntimeErrors
                raise AdapterMismatchError(
                    f"adapter {directory} does not fit base {self.location}: {error}"
                ) from None
            self.model.eval()
            self.adapters[name] = directory
            return name

    def _base_model(self) -> Any:
        return self.model.get_base_model() if self.adapters else self.model

    @contextmanager
    def generating_with(self, name: str) -> Iterator[None]:
        """Hold the lock with adapter ``name`` active (``base``: all adapters off) for one generation."""
        with self.lock:
            if name == BASE_ADAPTER:
                if self.adapters:
                    with self.model.disable_adapter():
                        yield
                else:
                    yield
                return
            if name not in self.adapters:
                raise ValueError(f"adapter {name!r} is not loaded (loaded: {sorted(self.adapters)})")
            self.model.set_adapter(name)
            yield


def shared_base(location: str, dtype: str = "float32", load_in_4bit: bool = False) -> SharedBase:
    """The one SharedBase per (base, dtype, 4-bit) in this process."""
    from citegraph.models.lora.loading import base_directory

    force_offline()
    key = ("lora_base", str(base_directory(location).resolve()), dtype, load_in_4bit)

    def build() -> SharedBase:
        loaded = load_base(location, dtype=dtype, load_in_4bit=load_in_4bit)
        return SharedBase(loaded.location, loaded.model, loaded.tokenizer)

    return resources.shared(key, build)


class AdapterChatModel(LocalChatModel):
    """A LangChain chat model that generates with one named adapter of a SharedBase.

    It delegates to a ChatHuggingFace over the base (whose LoRA layers follow the active adapter) and
    switches to its adapter under the base's lock first, so per-agent models over one base are safe to
    use from several threads. ``max_tokens`` and ``stop`` (per model or per call) are honoured, usage is
    counted in the base's tokens, and a stream is one chunk: the whole reply (it is generated under the
    lock in one piece).
    """

    inner: Any  # the ChatHuggingFace over the shared base
    shared: Any  # SharedBase
    adapter: str
    max_tokens: int | None = None  # None: the pipeline's own max_new_tokens
    stop: list[str] | None = None

    @property
    def _llm_type(self) -> str:
        return "citegraph-lora"

    @property
    def _identifying_params(self) -> dict[str, Any]:
        return {"base": self.shared.location, "adapter": self.adapter}

    @property
    def model_name(self) -> str:
        """``lora:<base>+<adapter>``: the name in traces (``ls_model_name``) and response metadata."""
        return f"lora:{Path(self.shared.location).name}+{self.adapter}"

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        from citegraph.models.hf import chat_token_counts, cut_at_stops

        limit = kwargs.pop("max_tokens", self.max_tokens)
        if limit is not None:  # HuggingFacePipeline passes pipeline_kwargs on to generation
            kwargs["pipeline_kwargs"] = {**kwargs.get("pipeline_kwargs", {}), "max_new_tokens": limit}
        with self.shared.generating_with(self.adapter):
            result = self.inner._generate(
                messages, stop=stop, run_manager=run_manager, stream=False, **kwargs
            )
        text = cut_at_stops(str(result.generations[0].message.content), [*(self.stop or []), *(stop or [])])
        message = AIMessage(
            content=text,
            response_metadata={"model_name": self.model_name},
            usage_metadata=chat_token_counts(self.shared.tokenizer, messages, text),
        )
        return ChatResult(generations=[ChatGeneration(message=message)])

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        reply = self._generate(messages, stop=stop, **kwargs).generations[0].message
        chunk = ChatGenerationChunk(
            message=AIMessageChunk(
                content=reply.content,
                response_metadata=reply.response_metadata,
                usage_metadata=reply.usage_metadata,
                chunk_position="last",
            )
        )
        if run_manager:
            run_manager.on_llm_new_token(str(reply.content), chunk=chunk)
        yield chunk


def write_task_marker(directory: Path, task: str, **details: Any) -> Path:
    """Declare in ``directory`` what its adapter was trained for, so an agent picks the prompt it was
    trained on (the planner's ``tuned`` mode for ``task="plan"``) without being told."""
    path = Path(directory) / TASK_FILE
    path.write_text(json.dumps({"task": task, **details}, indent=1) + "\n", encoding="utf-8")
    return path


def adapter_task(model: Any) -> str | None:
    """The task the active adapter of a ``lora:`` (or ``gguf:<base>+<adapter>``) chat model declares; None
    for any other model, for ``@base`` and for an adapter without a marker."""
    if type(model).__name__ == "AdapterChatModel":
        directory = model.shared.adapters.get(model.adapter)
    else:
        from citegraph.models.llamacpp import served_adapter

        directory = served_adapter(model)
    if directory is None or not (Path(directory) / TASK_FILE).is_file():
        return None
    try:
        task = json.loads((Path(directory) / TASK_FILE).read_text(encoding="utf-8")).get("task")
    except (OSError, ValueError, AttributeError):
        return None
    return task if isinstance(task, str) else None


def chat_model_for(
    shared: SharedBase, adapter: str, max_new_tokens: int = 200, **generate: Any
) -> AdapterChatModel:
    """A chat model bound to ``adapter`` of ``shared`` (``base``: adapters off)."""
    from citegraph.models.hf import chat_model_from

    if adapter != BASE_ADAPTER and adapter not in shared.adapters:
        raise ValueError(f"adapter {adapter!r} is not loaded (loaded: {sorted(shared.adapters)})")
    model = shared.model.get_base_model() if shared.adapters else shared.model
    inner = chat_model_from(
        model, shared.tokenizer, f"{Path(shared.location).name}+{adapter}", max_new_tokens, **generate
    )
    return AdapterChatModel(inner=inner, shared=shared, adapter=adapter)


def load_lora_chat_model(rest: str, dtype: str = "float32", **generate: Any) -> AdapterChatModel:
    """The chat model for the ``lora:`` spec ``rest`` (see the module docstring). 4-bit on CUDA: set
    ``CITEGRAPH_LORA_4BIT=1``."""
    import os

    spec = parse_lora_spec(rest)
    load_in_4bit = os.environ.get("CITEGRAPH_LORA_4BIT", "") in {"1", "true", "yes"}
    shared = shared_base(spec.base, dtype=dtype, load_in_4bit=load_in_4bit)
    for directory in spec.adapters:
        shared.add_adapter(directory)
    return chat_model_for(shared, spec.active, **generate)


def export_merged(base: str, adapter_dir: Path, out: Path) -> Path:
    """Merge the adapter in ``adapter_dir`` into a full-precision copy of ``base`` and save it to ``out``
    (a plain model directory: ``hf:OUT`` loads it without PEFT)."""
    from peft import PeftModel

    adapter_dir = Path(adapter_dir).expanduser()
    if not adapter_dir.is_dir():
        raise ModelNotFoundError(f"adapter directory does not exist: {adapter_dir}")
    loaded = load_base(base, dtype="float32")
    check_adapter_matches(adapter_dir, loaded.model)
    model = PeftModel.from_pretrained(loaded.model, str(adapter_dir), adapter_name=adapter_dir.name)
    merged = model.merge_and_unload()
    out.mkdir(parents=True, exist_ok=True)
    merged.save_pretrained(str(out))
    loaded.tokenizer.save_pretrained(str(out))
    return out
