"""Model specs beyond the local kinds: ``<provider>:<model>`` through init_chat_model, OpenAI-compatible
servers through a base URL, and the one-line errors for a missing key, package or server. No llama.cpp
here (tests/integration/test_langchain_standard.py runs it); the OpenAI-compatible server is a tiny local
HTTP server that records what it is sent."""

from __future__ import annotations

import importlib.util
import json
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from citegraph.errors import ModelNotFoundError, ModelUnavailableError
from citegraph.models.registry import load_chat_model
from citegraph.settings import Settings

REPLY = "Agnes Thorne designed it [1]."


@pytest.fixture(autouse=True)
def no_keys_or_servers(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test starts with no provider key and no base URL in the environment."""
    for name in ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "OPENAI_BASE_URL", "CITEGRAPH_OPENAI_BASE_URL"):
        monkeypatch.delenv(name, raising=False)


class Recorder(BaseHTTPRequestHandler):
    """Answers OpenAI's /v1/models and /v1/chat/completions; keeps each request's path, headers, body."""

    requests: list[dict[str, Any]]

    def _answer(self, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        self.requests.append({"path": self.path, "auth": self.headers.get("Authorization")})
        self._answer({"object": "list", "data": [{"id": "local-model", "object": "model"}]})

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.requests.append({"path": self.path, "auth": self.headers.get("Authorization"), "body": body})
        self._answer(
            {
                "id": "chatcmpl-1",
                "object": "chat.completion",
                "created": 0,
                "model": body["model"],
                "choices": [
                    {"index": 0, "message": {"role": "assistant", "content": REPLY}, "finish_reason": "stop"}
                ],
                "usage": {"prompt_tokens": 9, "completion_tokens": 7, "total_tokens": 16},
            }
        )

    def log_message(self, *args: Any) -> None:  # keep the test output quiet
        pass


@pytest.fixture
def server() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    """(base URL, recorded requests) of an OpenAI-compatible server on a free loopback port."""
    handler = type("Handler", (Recorder,), {"requests": []})
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/v1", handler.requests
    httpd.shutdown()
    httpd.server_close()


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_an_openai_compatible_server_is_reached_through_the_base_url(
    server: tuple[str, list[dict[str, Any]]], monkeypatch: pytest.MonkeyPatch
) -> None:
    base_url, requests = server
    monkeypatch.setenv("CITEGRAPH_OPENAI_BASE_URL", base_url)
    monkeypatch.setenv("OPENAI_BASE_URL", f"http://127.0.0.1:{closed_port()}/v1")  # CiteGraph's own wins
    model = load_chat_model("openai:local-model")
    assert [r["path"] for r in requests] == ["/v1/models"]  # first use checks the server, nothing more
    reply = model.invoke("Who designed the Kestrel bridge?")
    assert reply.content == REPLY and reply.usage_metadata["output_tokens"] == 7
    call = requests[-1]
    assert call["path"] == "/v1/chat/completions" and call["body"]["model"] == "local-model"
    assert call["auth"] == "Bearer not-needed"  # no OPENAI_API_KEY: a local server takes any key
    assert load_chat_model("openai:local-model") is model  # built once per spec


def test_a_hosted_provider_is_built_without_contacting_it(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_network(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("a model was contacted while being built")

    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    monkeypatch.setattr(httpx.Client, "send", no_network)
    monkeypatch.setattr(httpx.AsyncClient, "send", no_network)
    model = load_chat_model("openai:gpt-4o-mini-built-offline")
    assert model.model_name == "gpt-4o-mini-built-offline"
    assert model._get_ls_params()["ls_provider"] == "openai"


@pytest.mark.parametrize(
    ("spec", "error", "message"),
    [
        ("openai:gpt-4o-mini", ModelUnavailableError, "needs an API key: set OPENAI_API_KEY"),
        ("anthropic:claude-sonnet-4-5", ModelUnavailableError, "needs an API key: set ANTHROPIC_API_KEY"),
        ("bogus:x", ModelNotFoundError, "does not resolve: 'bogus' is neither a local model kind"),
        ("huggingface:HuggingFaceTB/SmolLM2-135M", ModelNotFoundError, "never downloads models"),
    ],
)
def test_a_spec_that_cannot_be_used_is_one_line_naming_the_fix(
    spec: str, error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message) as raised:
        load_chat_model(spec)
    assert "\n" not in str(raised.value)


def test_a_missing_provider_package_names_its_pip_command() -> None:
    if importlib.util.find_spec("langchain_google_genai") is not None:
        pytest.skip("langchain-google-genai is installed here")
    with pytest.raises(ModelUnavailableError, match="pip install langchain-google-genai") as raised:
        load_chat_model("google_genai:gemini-2.5-flash")
    assert "\n" not in str(raised.value)


def test_a_server_that_does_not_answer_is_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    base_url = f"http://127.0.0.1:{closed_port()}/v1"
    monkeypatch.setenv("OPENAI_BASE_URL", base_url)
    with pytest.raises(ModelUnavailableError, match=f"no OpenAI-compatible server answers at {base_url}"):
        load_chat_model("openai:nobody-home")


def test_the_base_url_setting_reads_either_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    assert Settings().openai_base_url == ""
    monkeypatch.setenv("OPENAI_BASE_URL", "http://a:1/v1")
    assert Settings().openai_base_url == "http://a:1/v1"
    monkeypatch.setenv("CITEGRAPH_OPENAI_BASE_URL", "http://b:2/v1")
    assert Settings().openai_base_url == "http://b:2/v1"
    assert Settings(openai_base_url="http://c:3/v1").openai_base_url == "http://c:3/v1"


def test_a_gguf_spec_needs_a_gguf_file(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text("{}")
    with pytest.raises(ModelNotFoundError, match=f"use hf:{tmp_path}"):
        load_chat_model(f"gguf:{tmp_path}")
    with pytest.raises(ModelNotFoundError, match="model path does not exist"):
        load_chat_model(f"gguf:{tmp_path / 'missing.gguf'}")
