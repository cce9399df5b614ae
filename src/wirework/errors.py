"""Domain errors. Services raise these; `app.py` turns each into RFC 9457 problem+json."""

from __future__ import annotations

from typing import Any


class WireworkError(Exception):
    status = 500
    title = "Internal Server Error"

    def __init__(
        self,
        detail: str,
        *,
        errors: list[dict[str, Any]] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        # Every entry has the problem schema's loc, msg and type (a raise that leaves type out
        # would otherwise answer with a body its own OpenAPI schema refuses).
        self.errors = [{"type": "value_error", **error} for error in errors] if errors is not None else None
        self.headers = headers


class BadRequest(WireworkError):
    status, title = 400, "Bad Request"


class Unauthorized(WireworkError):
    status, title = 401, "Unauthorized"


class Forbidden(WireworkError):
    status, title = 403, "Forbidden"


class NotFound(WireworkError):
    status, title = 404, "Not Found"


class Conflict(WireworkError):
    status, title = 409, "Conflict"


class ValidationFailed(WireworkError):
    status, title = 422, "Unprocessable Content"


class TooManyRequests(WireworkError):
    status, title = 429, "Too Many Requests"

    def __init__(self, detail: str, *, retry_after: int) -> None:
        super().__init__(detail, headers={"Retry-After": str(retry_after)})
        self.retry_after = retry_after


class ServiceUnavailable(WireworkError):
    status, title = 503, "Service Unavailable"


class MethodNotAllowed(WireworkError):
    status, title = 405, "Method Not Allowed"


class PayloadTooLarge(WireworkError):
    status, title = 413, "Content Too Large"


class BadGateway(WireworkError):
    status, title = 502, "Bad Gateway"


class GatewayTimeout(WireworkError):
    status, title = 504, "Gateway Timeout"
