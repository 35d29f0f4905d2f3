"""Refusals that escape a view become a page that says what was wrong, never a server error."""

from __future__ import annotations

from typing import Any, Callable

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from dealgate.errors import DealgateError


class DealgateErrorPage:
    """Render a `DealgateError` raised by a page (a bad `?pipeline=`, a refused write) with its status.

    Views that show errors next to a field catch them themselves; this is the floor under every
    other page, so a query parameter read by `dealgate.inputs` needs no try/except in the view.
    The API renders its own errors as JSON and is left alone.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> Any:
        if not isinstance(exception, DealgateError) or request.path.startswith("/api/"):
            return None
        return render(request, "web/error.html", {"error": exception}, status=exception.http_status)


class DateLocale:
    """Pages print dates in the browser's locale (dealgate.words.day, decision 033): US English month
    first, like its date picker; every other day first. The API keeps its own words and ISO dates."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        from dealgate.words import date_locale_from, dates_for

        if request.path.startswith("/api/"):
            return self.get_response(request)
        with dates_for(date_locale_from(request.headers.get("Accept-Language", ""))):
            return self.get_response(request)


class BlankAdminToField:
    """Drop an empty `_to_field` from requests to Django's admin.

    Django's admin skips its to-field check for an empty value and then asks the model for a field
    named "" (FieldDoesNotExist: a 500). An empty value means "the primary key" anyway, which is what
    the admin does without the parameter.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path.startswith("/admin/"):
            for name in ("GET", "POST"):
                params = getattr(request, name)
                if "_to_field" in params and not params.get("_to_field"):
                    params = params.copy()
                    params.pop("_to_field")
                    setattr(request, name, params)
        return self.get_response(request)
