"""Sets the audit surface of each request: /api/ is the API, /admin/ the Django admin, else the web."""

from __future__ import annotations

from typing import Callable

from django.http import HttpRequest, HttpResponse

from dealgate.audit.context import acting_from
from dealgate.audit.models import Surface


def surface_of(path: str) -> str:
    if path.startswith("/api/"):
        return Surface.API
    if path.startswith("/admin/"):
        return Surface.ADMIN
    return Surface.WEB


class AuditSurfaceMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        with acting_from(surface_of(request.path_info)):
            return self.get_response(request)
