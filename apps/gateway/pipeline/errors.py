"""Errors of the data plane, each with the HTTP status and OpenAI error type the edge answers with."""

from __future__ import annotations

import math
from typing import Any


class GatewayError(Exception):
    status = 500
    type = "api_error"
    code: str | None = None

    def __init__(
        self,
        message: str,
        *,
        param: str | None = None,
        code: str | None = None,
        error_type: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.param = param
        if code is not None:
            self.code = code
        if error_type is not None:  # a provider's own type, passed on with its 400
            self.type = error_type
        self.retry_after = retry_after  # seconds before trying again makes sense (429, 503)

    def envelope(self) -> dict[str, Any]:
        """OpenAI's error body."""
        return {"error": {"message": self.message, "type": self.type, "param": self.param, "code": self.code}}

    def headers(self) -> dict[str, str]:
        """Headers the answer carries besides the gateway's own (Retry-After, Allow)."""
        return {"Retry-After": str(max(1, math.ceil(self.retry_after)))} if self.retry_after is not None else {}


class InvalidRequest(GatewayError):
    status = 400
    type = "invalid_request_error"


class UnknownURL(InvalidRequest):
    """A path under /v1 that names no endpoint (OpenAI answers "Invalid URL (POST /v1/…)")."""

    status = 404
    code = "unknown_url"


class MethodNotAllowed(InvalidRequest):
    status = 405
    code = "method_not_allowed"

    def __init__(self, message: str, *, allow: str, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.allow = allow

    def headers(self) -> dict[str, str]:
        return {**super().headers(), "Allow": self.allow}


class PayloadTooLarge(InvalidRequest):
    status = 413
    code = "payload_too_large"


class AuthenticationFailed(GatewayError):
    status = 401
    type = "authentication_error"
    code = "invalid_api_key"


class PermissionDenied(GatewayError):
    status = 403
    type = "permission_error"
    code = "forbidden"


class ModelNotFound(GatewayError):
    status = 404
    type = "invalid_request_error"
    code = "model_not_found"


class RateLimited(GatewayError):
    status = 429
    type = "rate_limit_error"
    code = "rate_limit_exceeded"


class LimitExceeded(RateLimited):
    """A rate limit or quota of the gateway (not the provider's): `code` names which, the headers say when
    it resets (X-RateLimit-*, as OpenAI names them, and Retry-After)."""

    def __init__(self, message: str, *, limit_headers: dict[str, str] | None = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.limit_headers = dict(limit_headers or {})

    def headers(self) -> dict[str, str]:
        return {**super().headers(), **self.limit_headers}


class BudgetExceeded(LimitExceeded):
    code = "budget_exceeded"


class ModelNotAllowed(PermissionDenied):
    """The subscription's plan does not allow the model (route alias) asked for."""

    code = "model_not_allowed"


class LimitsUnavailable(GatewayError):
    """The limit store (Redis) cannot be reached and the tenant asked to fail closed."""

    status = 503
    type = "server_error"
    code = "limits_unavailable"


class UpstreamError(GatewayError):
    status = 502
    type = "upstream_error"
    code = "upstream_error"


class UpstreamTimeout(UpstreamError):
    status = 504
    code = "upstream_timeout"


class ServerError(GatewayError):
    """Something failed in the gateway itself: the caller gets this and the request id, the log the rest."""

    status = 500
    type = "server_error"
    code = "internal_error"


class NoHealthyDeployment(UpstreamError):
    status = 503
    code = "no_healthy_deployment"


class ServiceNotFound(GatewayError):
    status = 404
    type = "invalid_request_error"
    code = "service_not_found"


class ServiceNotInvocable(GatewayError):
    status = 409
    type = "invalid_request_error"
    code = "service_not_invocable"


class NotSubscribed(PermissionDenied):
    code = "not_subscribed"


class InvalidInput(InvalidRequest):
    """The invocation body does not match the service's input schema; `fields` maps each path to its error."""

    code = "invalid_input"

    def __init__(self, message: str, *, fields: dict[str, str], **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.fields = fields

    def envelope(self) -> dict[str, Any]:
        body = super().envelope()
        body["error"]["fields"] = self.fields
        return body


class InvalidOutput(UpstreamError):
    code = "invalid_output"
