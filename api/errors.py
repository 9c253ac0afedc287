"""Every error the API answers, in one format: {error, message, statusCode, details}.

Handlers raise `ApiError` (or a subclass); Werkzeug's HTTP errors and anything unexpected
are turned into the same shape, and a 500 never carries a stack trace.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, jsonify, request
from werkzeug.exceptions import HTTPException

logger = logging.getLogger(__name__)

HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "unprocessable_entity",
    429: "too_many_requests",
    500: "internal_error",
    503: "service_unavailable",
}


class ApiError(Exception):
    def __init__(
        self,
        status: int,
        message: str,
        code: str | None = None,
        details: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code or HTTP_CODES.get(status, "error")
        self.details = details or {}
        self.headers = headers or {}


class ValidationFailed(ApiError):
    def __init__(self, message: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(400, message, "validation_error", details)


class NotFound(ApiError):
    def __init__(self, what: str = "record") -> None:
        super().__init__(404, f"{what} not found", "not_found")


class Forbidden(ApiError):
    def __init__(self, message: str = "you may not do this", code: str = "forbidden", details=None) -> None:
        super().__init__(403, message, code, details)


class Conflict(ApiError):
    def __init__(self, message: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(409, message, "conflict", details)


class TooManyRequests(ApiError):
    def __init__(self, retry_after: int, message: str = "too many requests, try again later") -> None:
        super().__init__(429, message, "too_many_requests", {"retryAfter": retry_after}, {"Retry-After": str(retry_after)})


class EmailOff(ApiError):
    """A request that needs e-mail on a server that sends none (`SMTP_HOST` unset)."""

    def __init__(self, message: str) -> None:
        super().__init__(503, f"{message} (this server sends no e-mail: SMTP_HOST is not set)", "email_not_configured")


def error_response(error: ApiError):
    body = {"error": error.code, "message": error.message, "statusCode": error.status, "details": error.details}
    response = jsonify(body)
    response.status_code = error.status
    response.headers.update(error.headers)
    return response


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(ApiError)
    def handle_api_error(error: ApiError):
        return error_response(error)

    @app.errorhandler(HTTPException)
    def handle_http_error(error: HTTPException):
        status = error.code or 500
        message = error.description or HTTP_CODES.get(status, "error")
        if status == 413:  # Werkzeug's words name no limit
            message = f"the body is over {request.max_content_length} bytes, the most the API takes (MAX_BODY_BYTES)"
        response = error_response(ApiError(status, message))
        if status == 405 and error.valid_methods:
            response.headers["Allow"] = ", ".join(error.valid_methods)
        return response

    @app.errorhandler(Exception)
    def handle_unexpected(error: Exception):
        logger.exception("unhandled error")
        return error_response(ApiError(500, "something went wrong on our side; it has been logged"))
