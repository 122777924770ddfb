"""``gguf:<file | smollm2>[+<adapter>]``: a local GGUF served by llama.cpp inside this process, as a LangChain
chat model; with ``+<adapter>``, a PEFT LoRA adapter (converted once to a LoRA GGUF, see
``citegraph.models.lora.gguf_adapter``) or a LoRA ``.gguf`` file applied by llama.cpp to the base.

llama.cpp (the ``xllamacpp`` package: prebuilt CPU wheels of llama.cpp and its OpenAI-compatible server) runs
the model on a free loopback port, and the chat model is langchain-openai's ``ChatOpenAI`` pointed at it, so
streaming, async, ``stop``, ``max_tokens``, usage metadata and JSON-schema constrained output come from a
maintained integration. One server per GGUF file (and adapter) and process (``citegraph.resources.shared``:
concurrent first calls start one), stopped when the process exits; the server runs on threads of this
process, so nothing outlives it. Nothing starts before a ``gguf:`` model is first asked for.
"""

from __future__ import annotations

import atexit
import os
import threading
import weakref
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from citegraph.errors import ModelNotFoundError, ModelUnavailableError
from citegraph.models.paths import BUNDLED_ALIASES, resolve_model_path
from citegraph.resources import shared

# Context window of the served model: a generate prompt (question, five ~800-character passages, feedback)
# plus a 200-token answer needs ~2k tokens; 4096 leaves room at ~100 MB of KV cache for SmolLM2-135M.
DEFAULT_CONTEXT = 4096
# Decoding the answerer expects of a local model (as hf: does): greedy, a bounded answer, and a mild
# repetition penalty, which small models need to stop looping (llama.cpp's own default is 1.0: none).
DEFAULT_CHAT = {"temperature": 0.0, "max_tokens": 200, "extra_body": {"repeat_penalty": 1.1}}

# llama.cpp logs every request at its default verbosity (3, info); 1 keeps its errors only.
LOG_ERRORS_ONLY = 1

_running: weakref.WeakSet[LlamaCppServer] = weakref.WeakSet()
_running_lock = threading.Lock()
_stop_at_exit = False  # whether stop_all_servers is registered with atexit yet


@dataclass(eq=False)
class LlamaCppServer:
    """llama.cpp serving one GGUF in this process, OpenAI's ``/v1`` API at ``base_url``.

    ``start()`` is idempotent and thread-safe. The first start takes a port the OS picks (never a taken
    one); later starts reuse it, so a chat model made for ``base_url`` reaches the server again after a
    ``stop()`` and ``start()``."""

    path: Path
    model_name: str
    n_ctx: int = DEFAULT_CONTEXT
    adapter: Path | None = None  # the adapter folder (or LoRA .gguf) the spec named
    lora: Path | None = None  # the LoRA GGUF llama.cpp applies (the adapter's conversion)
    port: int = 0  # 0 until the first start
    _server: Any = field(default=None, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def base_url(self) -> str:
        if not self.port:
            raise RuntimeError(f"the llama.cpp server for {self.path} has not been started")
        return f"http://127.0.0.1:{self.port}/v1"

    @property
    def running(self) -> bool:
        return self._server is not None

    def start(self) -> LlamaCppServer:
        """Serve the model (if not serving yet) and return self."""
        with self._lock:
            if self._server is None:
                self._server = serve(self.path, self.model_name, self.n_ctx, self.port, self.lora)
                self.port = int(self._server.listening_address.rsplit(":", 1)[1])
                _track(self)
        return self

    def stop(self) -> None:
        """Stop serving: dropping the last reference to xllamacpp's Server ends (joins) its threads. A
        request still in flight then fails (llama.cpp aborts the process if one waits on a result), so
        stop only servers nobody is using: at exit, or in a test's teardown."""
        with self._lock:
            self._server = None


def cpu_threads() -> int:
    """The cores this process may run on (its affinity, not the machine's count)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def gguf_path(location: str) -> Path:
    """The GGUF file ``location`` names: ``smollm2`` (the bundled one), a ``.gguf`` file, or a folder
    holding exactly one; a Hugging Face folder is an ``hf:`` model, not a ``gguf:`` one."""
    path = resolve_model_path(location, "causal_lm")
    if path.suffix != ".gguf":
        raise ModelNotFoundError(
            f"gguf:{location} is a Hugging Face model folder, not a .gguf file: use hf:{location}"
        )
    return path


def split_adapter(location: str) -> tuple[str, Path | None]:
    """``<base>[+<adapter>]`` -> (base, adapter path or None)."""
    base, plus, adapter = location.strip().partition("+")
    if plus and not (base.strip() and adapter.strip()):
        raise ValueError(
            f"gguf:{location} does not resolve: expected gguf:<file.gguf|smollm2>+<adapter dir|lora.gguf>"
        )
    return base.strip(), Path(adapter.strip()).expanduser() if plus else None


def model_name_for(location: str, path: Path, adapter: Path | None = None) -> str:
    """The name the server answers to and ChatOpenAI reports (``ls_model_name``): the alias or file stem,
    and ``+<adapter name>`` when an adapter is applied."""
    alias = location.strip().lower()
    name = alias if alias in BUNDLED_ALIASES else path.stem
    return f"{name}+{adapter.stem if adapter.suffix == '.gguf' else adapter.name}" if adapter else name


def serve(path: Path, model_name: str, n_ctx: int, port: int, lora: Path | None = None) -> Any:
    """A running ``xllamacpp.Server`` for ``path`` (with the LoRA GGUF ``lora`` applied) on
    127.0.0.1:``port`` (0: a port the OS picks)."""
    try:
        import xllamacpp
    except ImportError as error:
        raise ModelUnavailableError(
            f"gguf: models need the xllamacpp package: pip install xllamacpp ({error})"
        ) from None
    params = xllamacpp.CommonParams()
    params.model.path = str(path)
    params.model_alias = {model_name}
    params.n_ctx = n_ctx
    params.verbosity = LOG_ERRORS_ONLY
    params.cpuparams.n_threads = cpu_threads()
    params.cpuparams_batch.n_threads = cpu_threads()
    params.hostnames = ["127.0.0.1"]
    params.port = port
    params.warmup = False  # the first request warms it up; an empty warm-up decode only delays the start
    params.endpoint_metrics = True  # for the start-up handshake below
    if lora is not None:
        params.lora_adapters = [xllamacpp.CommonAdapterLoraInfo(str(lora), 1.0)]
    try:
        server = xllamacpp.Server(params)
    except Exception as error:  # llama.cpp reports a bad file, a failed load or a taken port so
        where = f" on 127.0.0.1:{port}" if port else ""
        raise ModelUnavailableError(f"llama.cpp could not serve {path}{where}: {error}") from None
    # The Server returns before its task loop runs, and a stop that comes before the loop starts is lost
    # (the loop would then run for ever and the stop wait on it). A metrics request is answered by that
    # loop, so once it returns the server can be stopped at any time.
    server.handle_metrics()
    return server


def _track(server: LlamaCppServer) -> None:
    """Remember a running server so that the process stops it on exit (llama.cpp's threads are joined
    before the interpreter tears down, not left running into it)."""
    global _stop_at_exit
    with _running_lock:
        if not _stop_at_exit:
            atexit.register(stop_all_servers)
            _stop_at_exit = True
        _running.add(server)


def stop_all_servers() -> None:
    """Stop every llama.cpp server this process started (registered with ``atexit``)."""
    with _running_lock:
        servers = list(_running)
        _running.clear()
    for server in servers:
        server.stop()


def server_for(location: str, n_ctx: int = DEFAULT_CONTEXT) -> LlamaCppServer:
    """The process's llama.cpp server for the GGUF (and adapter) ``location`` names (one per file, adapter
    and context size), started on first use, and again if it was stopped."""

    def build() -> LlamaCppServer:
        base, adapter = split_adapter(location)
        path = gguf_path(base)
        lora = None
        if adapter is not None:
            from citegraph.models.lora.gguf_adapter import gguf_lora_for

            lora = gguf_lora_for(adapter, path)
        key = ("llamacpp_server", str(path.resolve()), str(lora.resolve()) if lora else "", n_ctx)
        name = model_name_for(base, path, adapter)
        return shared(key, lambda: LlamaCppServer(path, name, n_ctx, adapter, lora))

    # Resolved once per spec (an adapter's conversion check hashes its files); one server per file.
    return shared(("llamacpp_server_for", location.strip(), n_ctx), build).start()


def served_adapter(model: Any) -> Path | None:
    """The adapter a ``gguf:<base>+<adapter>`` chat model runs with (None for any other model)."""
    url = str(getattr(model, "openai_api_base", "") or "")
    with _running_lock:
        servers = list(_running)
    # ``port`` first: a server between its start and its port's being set has no base_url yet.
    return next((s.adapter for s in servers if s.adapter and s.port and s.base_url == url), None)


def chat_params(server: LlamaCppServer, **chat: Any) -> dict[str, Any]:
    """ChatOpenAI's arguments for ``server``: ``DEFAULT_CHAT`` unless ``chat`` says otherwise, and usage
    in streams too (llama.cpp sends it; ChatOpenAI asks for it only from OpenAI's own API by default)."""
    return {
        **DEFAULT_CHAT,
        "stream_usage": True,
        **chat,
        "base_url": server.base_url,
        "api_key": "not-needed",  # the server is on loopback and checks no key
        "model": server.model_name,
    }


def chat_model_for(server: LlamaCppServer, **chat: Any) -> Any:
    """langchain-openai's ``ChatOpenAI`` talking to ``server`` (arguments: ``chat_params``)."""
    from langchain_openai import ChatOpenAI

    return ChatOpenAI(**chat_params(server, **chat))


def load_gguf_chat_model(location: str, **chat: Any) -> Any:
    """``gguf:LOCATION`` as a chat model: the bundled SmolLM2 (``gguf:smollm2``) or a ``.gguf`` file, with
    ``+<adapter>`` a LoRA adapter on it."""
    return chat_model_for(server_for(location), **chat)
