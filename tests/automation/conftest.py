"""Fixtures for automation: rules made through the rule service, and the real worker in batch mode."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import SimpleNamespace

import pytest
from django.core.management import call_command

from dealgate.automation import services

SECRET = "whsec-the-receiver-knows-this"


@pytest.fixture
def run_worker():
    """run_worker() -> runs `dealgate worker --batch` in this process until the queue is empty."""

    def run(**options) -> None:
        call_command("worker", batch=True, interval=0, **options)

    return run


def workers_at_once(count: int = 2, **options) -> list[Exception]:
    """Run `count` `dealgate worker --batch` side by side in threads; return what they raised."""
    from django.db import connection

    errors: list[Exception] = []

    def worker(name):
        try:
            call_command("worker", batch=True, interval=0, worker_id=name, **options)
        except Exception as exc:  # returned to the test
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(f"w{i}",)) for i in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return errors


@pytest.fixture
def make_rule(pipeline):
    """make_rule(trigger=..., actions=[...], ...) -> an enabled rule on the test pipeline, via the service."""

    def make(**fields):
        fields.setdefault("name", "A rule")
        fields.setdefault("pipeline", pipeline)
        return services.create_rule(by=None, **fields)

    return make


def follow_up(days: int = 3, **extra) -> dict:
    return {"type": "create_task", "title": "Follow up on the proposal for {deal}", "due_in_days": days, **extra}


@pytest.fixture
def receiver():
    """A real HTTP server on a free port of 127.0.0.1. `answers` are the status codes it gives in turn
    (the last one repeats); `requests` holds (headers, raw body) of each POST it received."""
    state = SimpleNamespace(requests=[], answers=[200])

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers["Content-Length"]))
            state.requests.append((self.headers, body))
            code = state.answers.pop(0) if len(state.answers) > 1 else state.answers[0]
            self.send_response(code)
            if 300 <= code < 400:
                self.send_header("Location", "/elsewhere")
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}/hooks/dealgate"
    yield state
    server.shutdown()
    server.server_close()


def webhook(url: str, secret: str | None = SECRET) -> dict:
    return {"type": "webhook", "url": url, **({"secret": secret} if secret is not None else {})}
