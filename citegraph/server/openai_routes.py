"""OpenAI-compatible endpoints: ``GET /v1/models`` and ``POST /v1/chat/completions`` (JSON or SSE).

The model name picks the graph, and optionally the chat model that writes the answer: ``citegraph-rag``
(the graph's default) or ``citegraph-rag/<spec>`` for a spec the deployment offers
(``CITEGRAPH_SERVER_CHAT_MODELS``, e.g. ``citegraph-rag/openai:gpt-4o-mini``; that answer is generated).
The answer text keeps its [n] markers; the response carries what OpenAI's
shape cannot as extra top-level fields: ``citations``, ``thread_id``, ``status`` ("completed" or "review"),
``review`` (the interrupt, when a human must approve), ``abstained``, ``verified`` and ``closest`` (an
abstention's closest passages: where to read on, not claims).
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from citegraph.server.errors import ApiError
from citegraph.server.graphs import GraphService, RunOutcome
from citegraph.server.schemas import THREAD_ID, ChatCompletionRequest

router = APIRouter(prefix="/v1")


def _service(request: Request) -> GraphService:
    return request.app.state.service


def _thread_id(request: Request, body: ChatCompletionRequest) -> str:
    import re

    header = request.headers.get("x-thread-id")
    thread_id = body.thread_id or header or body.user
    if thread_id is None:
        return GraphService.new_thread_id()
    if not re.match(THREAD_ID, thread_id):
        raise ApiError(
            400,
            "a thread id (thread_id, X-Thread-Id or user) is 1-200 of [A-Za-z0-9._:@+-]",
            param="thread_id",
        )
    return thread_id


def _idempotency_key(request: Request) -> str | None:
    """``Idempotency-Key``: a retry with the same key finishes or returns the first try's run, never a
    second run (the openai client sends it with ``extra_headers``)."""
    key = request.headers.get("idempotency-key")
    if key is not None and not 1 <= len(key) <= 200:
        raise ApiError(400, "an Idempotency-Key is 1-200 characters", param="Idempotency-Key")
    return key


def _graph_and_chat_model(request: Request, model: str) -> tuple[str, str | None]:
    """The graph a request's ``model`` names, and the chat model spec it chooses (``<graph>/<spec>``), which
    must be one this deployment offers; a 404 otherwise, as for an unknown graph."""
    graph, _, chat_model = model.partition("/")
    if not chat_model:
        return graph, None
    offered = request.app.state.config.chat_models
    if chat_model not in offered:
        raise ApiError(
            404,
            f"the model '{model}' does not exist; chat models offered here: "
            f"{', '.join(offered) or 'none (CITEGRAPH_SERVER_CHAT_MODELS)'}",
            type="invalid_request_error",
            code="model_not_found",
            param="model",
        )
    return graph, chat_model


def _options(request: Request, body: ChatCompletionRequest, chat_model: str | None = None) -> dict[str, Any]:
    review = body.review if body.review is not None else request.app.state.config.default_review
    options = {"review": review, "strategy": body.strategy, "top_k": body.top_k}
    if chat_model:
        # The chosen model writes the answer (rag: `model`; assistant: its planner and its cited answers).
        models = {"model": chat_model, "planner_model": chat_model, "rag_model": chat_model}
        options.update(strategy=body.strategy or "generate", **models)
    return options


def _extras(outcome: RunOutcome) -> dict[str, Any]:
    answer = outcome.answer
    return {
        "thread_id": outcome.thread_id,
        "status": outcome.status,
        "citations": answer.get("citations", []),
        "closest": answer.get("closest", []),
        "abstained": bool(answer.get("abstained")),
        "verified": bool(answer.get("verified")),
        "short_answer": answer.get("short_answer", ""),
        "standalone_question": answer.get("standalone_question", ""),
        "review": outcome.review,
        "resumed": outcome.resumed,
        "replayed": outcome.replayed,
    }


def _usage(question: str, text: str) -> dict[str, int]:
    # Whitespace-separated words, not model tokens: the extractive strategy has no tokenizer.
    prompt, completion = len(question.split()), len(text.split())
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}


@router.get("/models")
async def list_models(request: Request) -> dict:
    """Every graph, and every graph with each chat model the deployment offers (``<graph>/<spec>``)."""
    created = request.app.state.started
    chat_models = request.app.state.config.chat_models
    return {
        "object": "list",
        "data": [
            {
                "id": model_id,
                "object": "model",
                "created": created,
                "owned_by": "citegraph",
                "description": s.description,
            }
            for name, s in sorted(_service(request).specs.items())
            for model_id in [name, *(f"{name}/{spec}" for spec in chat_models)]
        ],
    }


@router.get("/models/{model:path}")
async def get_model(request: Request, model: str) -> dict:
    graph, _ = _graph_and_chat_model(request, model)
    _service(request).spec(graph)
    created = request.app.state.started
    return {"id": model, "object": "model", "created": created, "owned_by": "citegraph"}


@router.post("/chat/completions")
async def chat_completions(request: Request, body: ChatCompletionRequest):
    config = request.app.state.config
    if len(body.messages) > config.max_messages:
        raise ApiError(400, f"at most {config.max_messages} messages per request", param="messages")
    service = _service(request)
    graph, chat_model = _graph_and_chat_model(request, body.model)
    service.spec(graph)  # 404 for an unknown model before anything runs
    question = body.question()
    thread_id = _thread_id(request, body)
    options = _options(request, body, chat_model)
    request_key = _idempotency_key(request)
    completion_id = f"chatcmpl-{uuid.uuid4().hex}"
    created = int(time.time())
    headers = {"X-Thread-Id": thread_id}
    if body.stream:
        events = service.stream(graph, question, thread_id, options, request_key)
        return StreamingResponse(
            _sse(events, completion_id, created, body.model, question),
            media_type="text/event-stream",
            headers={**headers, "Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )
    outcome = await run_in_threadpool(service.ask, graph, question, thread_id, options, None, request_key)
    text = outcome.answer.get("answer", "")
    payload = {
        "id": completion_id,
        "object": "chat.completion",
        "created": created,
        "model": body.model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": text, "refusal": None},
                "finish_reason": "stop",
                "logprobs": None,
            }
        ],
        "usage": _usage(question, text),
        **_extras(outcome),
    }
    from fastapi.responses import JSONResponse

    return JSONResponse(payload, headers=headers)


def _sse(
    events: Iterator[tuple[str, Any]], cid: str, created: int, model: str, question: str
) -> Iterator[str]:
    """Chat-completion chunks: the role, the answer's tokens as they come, then a last chunk with the
    finish reason and the citations (OpenAI clients ignore the extra fields), then ``[DONE]``."""

    def chunk(delta: dict, finish: str | None = None, **extra: Any) -> str:
        body = {
            "id": cid,
            "object": "chat.completion.chunk",
            "created": created,
            "model": model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}],
            **extra,
        }
        return f"data: {json.dumps(body, ensure_ascii=False)}\n\n"

    yield chunk({"role": "assistant", "content": ""})
    streamed = ""
    for kind, value in events:
        if kind == "token":
            if value:
                streamed += value
                yield chunk({"content": value})
            continue
        if kind == "error":
            yield f"data: {json.dumps(value.body(), ensure_ascii=False)}\n\n"
            break
        outcome: RunOutcome = value
        text = outcome.answer.get("answer", "")
        if not streamed:  # a graph or strategy that does not stream tokens: send the whole answer now
            for piece in _pieces(text):
                yield chunk({"content": piece})
        elif text.startswith(streamed) and text != streamed:
            yield chunk({"content": text[len(streamed) :]})
        extras = _extras(outcome)
        if streamed and not text.startswith(streamed):
            extras["content"] = text  # the final text differs from what was streamed: this one counts
        yield chunk({}, "stop", usage=_usage(question, text), **extras)
    yield "data: [DONE]\n\n"


def _pieces(text: str, size: int = 4) -> Iterator[str]:
    """Split ``text`` into chunks of a few words, keeping every character (spaces included)."""
    words = text.split(" ")
    for i in range(0, len(words), size):
        piece = " ".join(words[i : i + size])
        yield piece if i + size >= len(words) else piece + " "
