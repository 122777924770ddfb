"""JSON errors in OpenAI's shape: ``{"error": {"message", "type", "param", "code"}}``, for every failure."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from citegraph.errors import ModelNotFoundError

log = logging.getLogger("citegraph.server")

_TYPES = {
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    413: "invalid_request_error",
}


class ApiError(Exception):
    """An error the API reports to the client as JSON with ``status``."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        type: str | None = None,
        code: str | None = None,
        param: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.type = type or _TYPES.get(status, "server_error" if status >= 500 else "invalid_request_error")
        self.code = code
        self.param = param
        self.headers = headers

    def body(self) -> dict:
        return {"error": {"message": self.message, "type": self.type, "param": self.param, "code": self.code}}

    def response(self) -> JSONResponse:
        return JSONResponse(self.body(), status_code=self.status, headers=self.headers)


def model_unavailable(error: ModelNotFoundError) -> ApiError:
    """The 400 for a model that does not resolve: the client's (or operator's) spec or path to fix."""
    return ApiError(400, f"model not available: {error}", code="model_unavailable")


def _location(loc: tuple) -> str:
    return ".".join(str(part) for part in loc if part not in ("body", "query", "path"))


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def api_error(_: Request, error: ApiError) -> JSONResponse:
        return error.response()

    @app.exception_handler(ModelNotFoundError)
    async def model_not_found(_: Request, error: ModelNotFoundError) -> JSONResponse:
        # Graph runs map it themselves (GraphService._run); this catches any other route that loads a model.
        return model_unavailable(error).response()

    @app.exception_handler(RequestValidationError)
    async def validation_error(_: Request, error: RequestValidationError) -> JSONResponse:
        problems = error.errors()
        first = problems[0] if problems else {}
        where = _location(tuple(first.get("loc", ())))
        message = f"{where}: {first.get('msg', 'invalid request')}" if where else first.get("msg", "invalid")
        if len(problems) > 1:
            message += f" (and {len(problems) - 1} more problem{'s' if len(problems) > 2 else ''})"
        return ApiError(400, message, code="invalid_request", param=where or None).response()

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_: Request, error: StarletteHTTPException) -> JSONResponse:
        return ApiError(
            error.status_code, str(error.detail), headers=getattr(error, "headers", None)
        ).response()

    @app.exception_handler(Exception)
    async def unexpected(request: Request, error: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return ApiError(500, f"internal error ({type(error).__name__}); see the server log").response()
