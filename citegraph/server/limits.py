"""Request guards: a body-size limit (ASGI middleware, checked before and while reading) and bearer auth."""

from __future__ import annotations

import hmac
import json

from fastapi import Request

from citegraph.server.errors import ApiError


class _TooLarge(Exception):
    pass


class BodyLimitMiddleware:
    """Refuse bodies over ``json_limit`` bytes (``upload_limit`` for upload paths) with a JSON 413."""

    def __init__(self, app, json_limit: int, upload_limit: int, upload_paths: tuple[str, ...]) -> None:
        self.app = app
        self.json_limit = json_limit
        self.upload_limit = upload_limit
        self.upload_paths = upload_paths

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.upload_limit if scope["path"] in self.upload_paths else self.json_limit
        headers = dict(scope.get("headers") or [])
        declared = headers.get(b"content-length")
        if declared is not None:
            try:
                too_big = int(declared) > limit
            except ValueError:
                await self._refuse(send, 400, "invalid Content-Length header")
                return
            if too_big:
                await self._refuse(send, 413, self._message(limit))
                return
        received = 0
        exceeded = refused = False

        async def counting_receive():
            nonlocal received, exceeded
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    exceeded = True
                    raise _TooLarge
            return message

        async def guarded_send(message):
            # Whatever the app answers to a body cut short (FastAPI makes it a 400), the client gets a 413.
            nonlocal refused
            if not exceeded:
                await send(message)
            elif not refused:
                refused = True
                await self._refuse(send, 413, self._message(limit))

        try:
            await self.app(scope, counting_receive, guarded_send)
        except _TooLarge:
            if not refused:
                await self._refuse(send, 413, self._message(limit))

    @staticmethod
    def _message(limit: int) -> str:
        return f"the request body is larger than the limit of {limit} bytes"

    @staticmethod
    async def _refuse(send, status: int, message: str) -> None:
        body = json.dumps(
            ApiError(status, message, code="request_too_large" if status == 413 else None).body()
        )
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [(b"content-type", b"application/json"), (b"connection", b"close")],
            }
        )
        await send({"type": "http.response.body", "body": body.encode()})


def bearer_auth(api_key: str):
    """A FastAPI dependency checking ``Authorization: Bearer <api_key>`` (a no-op when the key is empty)."""

    async def check(request: Request) -> None:
        if not api_key:
            return
        header = request.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(token.strip().encode(), api_key.encode()):
            raise ApiError(
                401,
                "missing or wrong API key: send 'Authorization: Bearer <key>'",
                code="invalid_api_key",
                headers={"WWW-Authenticate": "Bearer"},
            )

    return check
