"""How the API knows who is calling: a personal bearer token, or the browser's session.

The session path checks CSRF on unsafe methods, but only once it knows there is a logged-in
user: a call with no credentials at all must answer 401, not a CSRF 403.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.auth import authenticate
from django.http import HttpRequest
from ninja.errors import HttpError
from ninja.security import APIKeyCookie, HttpBasicAuth, HttpBearer
from ninja.utils import check_csrf

from dealgate.api.services import user_for_token


class BearerToken(HttpBearer):
    """`Authorization: Bearer dg_...` with a personal API token made on the /tokens/ page."""

    def authenticate(self, request: HttpRequest, token: str) -> Any | None:
        user = user_for_token(token)
        if user is not None:
            request.user = user
        return user


class CsrfFailed(HttpError):
    def __init__(self) -> None:
        super().__init__(403, "CSRF check failed: send the X-CSRFToken header with the csrftoken cookie's value.")


class BrowserSession(APIKeyCookie):
    """Django's login session, for the interactive docs and the app's own pages."""

    param_name = settings.SESSION_COOKIE_NAME

    def _get_key(self, request: HttpRequest) -> str | None:
        return request.COOKIES.get(self.param_name)

    def authenticate(self, request: HttpRequest, key: str | None) -> Any | None:
        if not request.user.is_authenticated:
            return None
        if self.csrf and not getattr(request, "_ninja_csrf_exempt", False) and check_csrf(request):
            raise CsrfFailed()
        return request.user


class PasswordBasic(HttpBasicAuth):
    """HTTP Basic with a username and password: accepted only to mint a token from a script."""

    def authenticate(self, request: HttpRequest, username: str, password: str) -> Any | None:
        user = authenticate(request, username=username, password=password)
        if user is not None:
            request.user = user
        return user
