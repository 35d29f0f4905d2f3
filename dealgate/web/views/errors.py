"""The page for an error no view handled: 503 when the database does not answer, else the plain 500.

A lost or refused database connection (PostgreSQL stopped or restarting, the network cut, no
connection to spare) is not a bug in Dealgate and passes by itself: the user gets a styled 503 that
says so, with `Retry-After`, instead of "Something went wrong". The page is rendered without the
request (no user, no session), so drawing it needs no database. The log keeps the traceback.
"""

from __future__ import annotations

import sys

from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.template import loader
from django.views import defaults

RETRY_AFTER_SECONDS = 30
DATABASE_UNREACHABLE = ("Dealgate cannot reach its database right now; try again in a minute. "
                        "A change sent with this request may not have been saved: check before repeating it.")


def database_unreachable(exc: BaseException | None) -> bool:
    return isinstance(exc, (OperationalError, InterfaceError))


def server_error(request: HttpRequest) -> HttpResponse:
    if database_unreachable(sys.exc_info()[1]):
        if request.path.startswith("/api/"):
            response = JsonResponse({"code": "unavailable", "message": DATABASE_UNREACHABLE, "details": {}}, status=503)
        else:
            response = HttpResponse(loader.get_template("503.html").render(), status=503)
        response["Retry-After"] = str(RETRY_AFTER_SECONDS)
        return response
    return defaults.server_error(request)
