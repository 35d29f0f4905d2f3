"""A real Dealgate installation for tests that run several processes: its own database, set up by
the `dealgate` CLI, and web servers started as `dealgate serve` starts them (gunicorn), on free ports.

The database is the test run's kind: with DATABASE_URL on PostgreSQL, a database of its own on the
same server (named after the test database, dropped afterwards); otherwise a SQLite file in a
temporary folder. Nothing here touches the test's own database.
"""

from __future__ import annotations

import http.cookiejar
import json
import os
import re
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
START_SECONDS = 120

# Run in a child process against the installation's database: the people, a plain pipeline with no
# criteria, one deal in its first stage, API tokens. Prints what the test needs as JSON.
SEED = r"""
import json, django
django.setup()
from dealgate.api.services import create_token
from dealgate.deals import services as deals
from dealgate.people.services import create_team, create_user
from dealgate.pipelines.models import LostReason, Pipeline, Stage
east = create_team(name="East")
alice = create_user(username="alice", password="correct-horse-battery", role="rep", team=east)
create_user(username="bob", password="correct-horse-battery", role="manager", team=east)
dave = create_user(username="dave", password="correct-horse-battery", role="admin")
plain = Pipeline.objects.create(key="plain", name="Plain pipeline")
for position, (key, kind) in enumerate([("first", "open"), ("second", "open"), ("won", "won"), ("lost", "lost")], 1):
    Stage.objects.create(pipeline=plain, key=key, name=key.title(), position=position, kind=kind,
                         probability={"won": 100, "lost": 0}.get(key, 50))
LostReason.objects.get_or_create(key="price", defaults={"label": "Price too high"})
account = deals.create_account(by=alice, name="Acme")
deal = deals.create_deal(by=alice, title="Acme roll-out", account=account, pipeline=plain, amount=1000)
print(json.dumps({"deal": deal.pk, "account": account.pk,
                  "alice": create_token(user=alice, name="tests")[1], "dave": create_token(user=dave, name="tests")[1]}))
"""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def database_env(name: str, tmp: Path) -> tuple[dict[str, str], Any]:
    """(environment, drop) for a fresh database of the test run's kind; `drop()` removes it."""
    env = dict(os.environ, PYTHONPATH=str(ROOT), DEALGATE_DATA_DIR=str(tmp), DEALGATE_DEBUG="0")
    for variable in ("DEALGATE_TASK_BACKEND", "DEALGATE_REDIS_URL", "DEALGATE_STATIC_MANIFEST"):
        env.pop(variable, None)
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith(("postgres://", "postgresql://")):
        env.pop("DATABASE_URL", None)
        return env, lambda: None
    import psycopg

    parts = urllib.parse.urlsplit(url)
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")  # each test process its own database
    database = f"test_{parts.path.lstrip('/') or 'dealgate'}_{name}{'_' + worker if worker else ''}"
    admin_url = urllib.parse.urlunsplit(parts._replace(path="/postgres"))

    def run(sql: str) -> None:
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(sql)

    run(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
    run(f'CREATE DATABASE "{database}"')
    env["DATABASE_URL"] = urllib.parse.urlunsplit(parts._replace(path=f"/{database}"))
    return env, lambda: run(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')


def dealgate(env: dict[str, str], *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    done = subprocess.run([sys.executable, "-m", "dealgate.cli", *args], env=env, cwd=env["DEALGATE_DATA_DIR"],
                          capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, done.stdout + done.stderr
    return done


def set_up(env: dict[str, str]) -> dict[str, Any]:
    """Migrate the installation's database with the CLI and seed it; the seed's JSON answer."""
    dealgate(env, "migrate", "--verbosity", "0")
    seeded = subprocess.run([sys.executable, "-c", SEED], env=dict(env, DJANGO_SETTINGS_MODULE="dealgate.settings"),
                            cwd=env["DEALGATE_DATA_DIR"], capture_output=True, text=True, timeout=300)
    assert seeded.returncode == 0, seeded.stderr
    return json.loads(seeded.stdout.strip().splitlines()[-1])


class Server:
    """One web server as `dealgate serve` runs it (gunicorn, threaded), on its own port."""

    def __init__(self, env: dict[str, str], log_dir: Path):
        from dealgate.deals.management.commands.serve import gunicorn_command

        self.env = env
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log = open(log_dir / f"server-{self.port}.log", "w+")
        self.process = subprocess.Popen(
            gunicorn_command("127.0.0.1", str(self.port), workers=1, threads=2),
            env=env, stdout=self.log, stderr=subprocess.STDOUT, cwd=env["DEALGATE_DATA_DIR"])
        try:
            self._wait_until_it_answers()
        except BaseException:
            self.stop()  # never leave a server behind
            raise

    def _wait_until_it_answers(self) -> None:
        deadline = time.monotonic() + START_SECONDS
        while time.monotonic() < deadline and self.process.poll() is None:
            try:
                urllib.request.urlopen(self.base + "/login/", timeout=30).read()
                return
            except OSError:  # not listening yet, or still importing
                time.sleep(0.3)
        raise AssertionError(f"the server did not start: {self.output()}")

    def output(self) -> str:
        self.log.flush()
        self.log.seek(0)
        return self.log.read()[-3000:]

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.close()


def api(server: Server, method: str, path: str, token: str, body: Any = None) -> tuple[int, Any]:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(server.base + path, data=data, method=method,
                                     headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"null")


class Browser:
    """Cookies kept across servers, as a browser keeps them for one site behind a load balancer."""

    def __init__(self) -> None:
        self.cookies = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.cookies),
                                                  _NoRedirect())

    def get(self, server: Server, path: str) -> tuple[int, str]:
        return self._open(urllib.request.Request(server.base + path))

    def sign_in(self, server: Server, username: str, password: str) -> tuple[int, str]:
        status, page = self.get(server, "/login/")
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)[1]
        form = urllib.parse.urlencode({"csrfmiddlewaretoken": token, "username": username, "password": password})
        return self._open(urllib.request.Request(server.base + "/login/", data=form.encode(), method="POST",
                                                 headers={"Referer": server.base + "/login/"}))

    def _open(self, request: urllib.request.Request) -> tuple[int, str]:
        # The cookie jar files cookies per host name and both servers are 127.0.0.1 (ports do not count).
        try:
            with self.opener.open(request, timeout=60) as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode()


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


def in_django(env: dict[str, str], code: str) -> Any:
    """Run `code` (Python, Django set up, ending with `answer = ...`) in a child process against the
    installation; its `answer` as JSON."""
    script = f"import json, django\ndjango.setup()\n{code}\nprint(json.dumps(answer))\n"
    done = subprocess.run([sys.executable, "-c", script], env=dict(env, DJANGO_SETTINGS_MODULE="dealgate.settings"),
                          cwd=env["DEALGATE_DATA_DIR"], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])
