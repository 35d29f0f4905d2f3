"""`dealgate serve`'s web server: Django's threaded development server with its connections bounded.

Django's runserver starts a thread per HTTP connection and, with CONN_MAX_AGE, each thread keeps
its database connection for as long as the browser keeps the HTTP connection alive. Under load
that was one idle PostgreSQL connection per open browser connection (80 after ~3,000 requests)
until PostgreSQL answered "too many clients". Here at most `DEALGATE_SERVE_REQUESTS` requests run
at once (the others wait their turn), and each request closes its thread's connections when its
response is finished, so the server never holds more than that many connections, plus the
analytics helper threads (DEALGATE_ANALYTICS_THREADS, see dealgate.analytics.together).
"""

from __future__ import annotations

import threading
from typing import Any, Callable, Iterable

from django.core.management.commands.runserver import Command as RunserverCommand
from django.core.servers.basehttp import WSGIServer, get_internal_wsgi_application
from django.db import connections

# A request waits this long for a free slot before the server answers 503 (busy, retry).
SLOT_WAIT_SECONDS = 60


class _FinishedResponse:
    """The response's body; when the server closes it, the request's slot and connections are freed."""

    def __init__(self, result: Iterable[bytes], done: Callable[[], None]):
        self.result = result
        self.done = done

    def __iter__(self):
        return iter(self.result)

    def close(self) -> None:
        try:
            close = getattr(self.result, "close", None)
            if close is not None:
                close()  # Django's request_finished
        finally:
            self.done()


class BoundedApp:
    """A WSGI application that runs at most `slots` requests at once, each on connections it closes."""

    def __init__(self, app: Callable, slots: int, wait: float = SLOT_WAIT_SECONDS):
        self.app = app
        self.slots = threading.BoundedSemaphore(slots)
        self.wait = wait

    def __call__(self, environ: dict, start_response: Callable) -> Any:
        if not self.slots.acquire(timeout=self.wait):
            start_response("503 Service Unavailable", [("Content-Type", "text/plain; charset=utf-8"),
                                                       ("Retry-After", "5")])
            return [b"Dealgate is busy; try again in a few seconds.\n"]
        try:
            result = self.app(environ, start_response)
        except BaseException:
            self._done()
            raise
        return _FinishedResponse(result, self._done)

    def _done(self) -> None:
        try:
            connections.close_all()  # this request thread's connections only
        finally:
            self.slots.release()


def bounded_application(slots: int | None = None) -> BoundedApp:
    from django.conf import settings

    return BoundedApp(get_internal_wsgi_application(), slots or settings.DEALGATE_SERVE_REQUESTS)


class BoundedRunserver(RunserverCommand):
    """runserver, serving the bounded application (static files as runserver serves them)."""

    server_cls = WSGIServer

    def get_handler(self, *args: Any, **options: Any) -> BoundedApp:
        from django.conf import settings

        return BoundedApp(super().get_handler(*args, **options), settings.DEALGATE_SERVE_REQUESTS)
