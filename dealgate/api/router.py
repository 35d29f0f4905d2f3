"""The REST API (django-ninja). Endpoints call the same services as the UI and CLI.

Every error leaves here in one shape, `{code, message, details}` (schema `ErrorOut`):
service refusals (`dealgate.errors`), request validation, authentication, CSRF, 404s and
unexpected failures alike.
"""

from __future__ import annotations

import copy
import logging
from typing import Any

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import Http404, HttpRequest, HttpResponse
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError, ValidationError

from dealgate.api.auth import BearerToken, BrowserSession, CsrfFailed
from dealgate.api.docs import LocalSwagger
from dealgate.errors import DealgateError
from dealgate.web.views.errors import DATABASE_UNREACHABLE, RETRY_AFTER_SECONDS, database_unreachable

logger = logging.getLogger(__name__)

class DealgateAPI(NinjaAPI):
    """Builds its OpenAPI document once per process: the routes cannot change while it runs, and
    building it cost 250 ms on every request to /api/openapi.json and /api/docs."""

    def get_openapi_schema(self, *, path_prefix: str | None = None, path_params: dict | None = None) -> Any:
        if path_prefix is None:
            path_prefix = self.get_root_path(path_params or {})
        built = self.__dict__.setdefault("_built_schemas", {})
        if path_prefix not in built:
            built[path_prefix] = super().get_openapi_schema(path_prefix=path_prefix)
        return copy.deepcopy(built[path_prefix])  # a caller may change its copy, never the next caller's


api = DealgateAPI(
    title="Dealgate API",
    version="1",
    urls_namespace="api",
    auth=[BearerToken(), BrowserSession()],
    docs=LocalSwagger(),
    description=(
        "Stage-gated sales pipelines. Authenticate with `Authorization: Bearer <token>` (make a token on "
        "the API tokens page, /tokens/) or a logged-in browser session. Errors are always "
        "`{code, message, details}`. Lists are cursor-paginated: follow `next_cursor`."
    ),
)


def error_response(request: HttpRequest, status: int, code: str, message: str, details: Any = None) -> HttpResponse:
    return api.create_response(request, {"code": code, "message": message, "details": details or {}}, status=status)


@api.exception_handler(DealgateError)
def _dealgate_error(request: HttpRequest, exc: DealgateError) -> HttpResponse:
    return api.create_response(request, exc.as_dict(), status=exc.http_status)


def _field_name(loc: list[Any]) -> str:
    """('body', 'payload', 'amount') -> 'amount'; ('body', 'payload') -> 'body'; ('query', 'limit') -> 'limit'."""
    parts = list(loc)
    if parts and parts[0] == "body":
        parts = parts[2:] or ["body"]
    elif parts and parts[0] in ("body", "query", "path", "header", "cookie", "form", "file"):
        parts = parts[1:]
    return ".".join(str(p) for p in parts) or "request"


@api.exception_handler(ValidationError)
def _validation_error(request: HttpRequest, exc: ValidationError) -> HttpResponse:
    details: dict[str, list[str]] = {}
    for err in exc.errors:
        details.setdefault(_field_name(err.get("loc", [])), []).append(str(err.get("msg", "is invalid")))
    fields = ", ".join(details)
    return error_response(request, 422, "validation_failed", f"Invalid request: check {fields}.", details)


@api.exception_handler(AuthenticationError)
def _unauthorized(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
    response = error_response(request, 401, "unauthorized",
                              "Send 'Authorization: Bearer <token>' with an active API token, or log in.")
    response["WWW-Authenticate"] = "Bearer"
    return response


@api.exception_handler(Http404)
def _not_found(request: HttpRequest, exc: Http404) -> HttpResponse:
    return error_response(request, 404, "not_found", str(exc) or "Not found.")


@api.exception_handler(HttpError)
def _http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
    codes = {400: "bad_request", 403: "forbidden", 405: "method_not_allowed", 429: "throttled"}
    code = "csrf_failed" if isinstance(exc, CsrfFailed) else codes.get(exc.status_code, "error")
    return error_response(request, exc.status_code, code, str(exc))


@api.exception_handler(RequestDataTooBig)
def _too_large(request: HttpRequest, exc: RequestDataTooBig) -> HttpResponse:
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    return error_response(request, 413, "too_large",
                          f"The request body is larger than {limit:,} bytes (DEALGATE_MAX_REQUEST_BYTES); "
                          "send fewer or smaller changes per request.", {"max_bytes": limit})


@api.exception_handler(Exception)
def _server_error(request: HttpRequest, exc: Exception) -> HttpResponse:
    if database_unreachable(exc):
        logger.exception("API: the database does not answer on %s %s", request.method, request.path)
        response = error_response(request, 503, "unavailable", DATABASE_UNREACHABLE)
        response["Retry-After"] = str(RETRY_AFTER_SECONDS)
        return response
    logger.exception("API error on %s %s", request.method, request.path)
    return error_response(request, 500, "server_error", "Something went wrong on our side; it has been logged.")


# Routers register their endpoints on import; the imports stay at the bottom so `api` exists first.
from dealgate.api.routers import register  # noqa: E402

register(api)

from dealgate.api.routers import analytics  # noqa: E402

api.add_router("", analytics.router)

from dealgate.signals.api import router as signals_router  # noqa: E402

api.add_router("/signals", signals_router)

from dealgate.signals.import_api import router as erp_imports_router  # noqa: E402

api.add_router("/imports", erp_imports_router)
