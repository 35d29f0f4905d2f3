"""Content-Security-Policy on every response (Django 5.2 has none built in).

Scripts run only from the app's own files, or from an inline `<script nonce="{{ csp_nonce }}">`
that carries this request's nonce; no framing by other sites; forms post only to the app.
docs/security.md explains each directive.
"""

from __future__ import annotations

import secrets
from typing import Any, Callable

from django.http import HttpRequest, HttpResponse

HEADER = "Content-Security-Policy"


def policy(nonce: str) -> str:
    directives = {
        "default-src": "'self'",
        "script-src": f"'self' 'nonce-{nonce}'",
        # Plotly and htmx set element styles from script; no stylesheet or script from elsewhere.
        "style-src": "'self' 'unsafe-inline'",
        "img-src": "'self' data:",
        "font-src": "'self' data:",
        "connect-src": "'self'",
        "object-src": "'none'",
        "base-uri": "'self'",
        "form-action": "'self'",
        "frame-ancestors": "'none'",
    }
    return "; ".join(f"{name} {value}" for name, value in directives.items())


class ContentSecurityPolicyMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request.csp_nonce = secrets.token_urlsafe(16)
        response = self.get_response(request)
        if HEADER not in response:
            response[HEADER] = policy(request.csp_nonce)
        return response


def nonce(request: HttpRequest) -> dict[str, Any]:
    """Template context processor: `{{ csp_nonce }}` for the rare inline script that must stay inline."""
    return {"csp_nonce": getattr(request, "csp_nonce", "")}
