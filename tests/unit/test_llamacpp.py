"""The llama.cpp server handle without llama.cpp: one start however many threads ask at once, a restart on
the same port after a stop, every started server stopped at exit. ``serve`` (the one call into xllamacpp)
is replaced by a recorder; tests/integration/test_langchain_standard.py runs the real server."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest

from citegraph.models import llamacpp
from citegraph.models.llamacpp import LlamaCppServer, chat_params, stop_all_servers


class FakeServer:
    """Stands in for ``xllamacpp.Server``: the address it listens on."""

    def __init__(self, port: int) -> None:
        self.listening_address = f"http://127.0.0.1:{port}"


@pytest.fixture
def serve_calls(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The port each ``serve`` call asked for (0: let the OS pick; the fake then picks 41001)."""
    calls: list[int] = []
    lock = threading.Lock()

    def fake_serve(
        path: Path, model_name: str, n_ctx: int, port: int, lora: Path | None = None
    ) -> FakeServer:
        with lock:
            calls.append(port)
        return FakeServer(port or 41001)

    monkeypatch.setattr(llamacpp, "serve", fake_serve)
    return calls


def test_concurrent_starts_serve_once_and_a_restart_keeps_the_port(serve_calls: list[int]) -> None:
    server = LlamaCppServer(Path("model.gguf"), "model")
    with pytest.raises(RuntimeError, match="not been started"):
        _ = server.base_url
    threads = [threading.Thread(target=server.start) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert serve_calls == [0] and server.running and server.base_url == "http://127.0.0.1:41001/v1"
    server.stop()
    assert not server.running
    server.start()
    assert serve_calls == [0, 41001]  # the chat models made for base_url reach it again


def test_every_started_server_is_stopped_at_exit(serve_calls: list[int]) -> None:
    servers = [LlamaCppServer(Path(f"m{i}.gguf"), f"m{i}").start() for i in range(2)]
    assert all(s.running for s in servers)
    stop_all_servers()  # what atexit runs
    assert not any(s.running for s in servers)


def test_chat_params_point_chat_openai_at_the_server(serve_calls: list[int]) -> None:
    server = LlamaCppServer(Path("model.gguf"), "smollm2").start()
    params: dict[str, Any] = chat_params(server, max_tokens=16, base_url="http://elsewhere/v1")
    assert params["base_url"] == server.base_url and params["model"] == "smollm2"  # never overridden
    assert params["max_tokens"] == 16 and params["temperature"] == 0.0 and params["stream_usage"]
    server.stop()
