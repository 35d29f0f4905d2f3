"""Faults in a running installation (issue 16): the database going away, processes killed with
SIGKILL, two processes moving one deal. Real processes throughout: gunicorn servers as `dealgate
serve` starts them, `dealgate worker`, the test run's database.

The shared PostgreSQL cluster is never stopped: the server under test reaches PostgreSQL through
a small TCP forwarder owned by the test, which cuts every connection and refuses new ones, then
listens again on the same port. "Mid-request" and "mid-job" are made certain with a row lock the
test holds on the deal (PostgreSQL), or SQLite's write lock, so the process is stopped while it
waits inside its transaction.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

import pytest

from tests.web.installation import Browser, Server, api, database_env, dealgate, free_port, in_django, set_up

PASSWORD = "correct-horse-battery"
ON_POSTGRES = os.environ.get("DATABASE_URL", "").startswith(("postgres://", "postgresql://"))
postgres_only = pytest.mark.skipif(not ON_POSTGRES, reason="needs PostgreSQL (DATABASE_URL)")


class Forwarder:
    """127.0.0.1:<port> -> upstream, byte for byte; `cut()` drops every connection and refuses new
    ones (as a stopped PostgreSQL does), `restore()` listens again on the same port."""

    def __init__(self, upstream: tuple[str, int]):
        self.upstream = upstream
        self.port = free_port()
        self.sockets: set[socket.socket] = set()
        self.lock = threading.Lock()
        self.listener: socket.socket | None = None
        self.restore()

    def restore(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        self.listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return  # cut
            try:
                server = socket.create_connection(self.upstream, timeout=10)
            except OSError:
                client.close()
                continue
            server.settimeout(None)
            with self.lock:
                self.sockets |= {client, server}
            for source, target in ((client, server), (server, client)):
                threading.Thread(target=self._pump, args=(source, target), daemon=True).start()

    def _pump(self, source: socket.socket, target: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                target.sendall(data)
        except OSError:
            pass
        for end in (source, target):
            with contextlib.suppress(OSError):
                end.shutdown(socket.SHUT_RDWR)

    def cut(self) -> None:
        if self.listener is not None:
            with contextlib.suppress(OSError):  # wakes the thread blocked in accept(); close() alone would not
                self.listener.shutdown(socket.SHUT_RDWR)
            self.listener.close()
            self.listener = None
        with self.lock:
            doomed, self.sockets = self.sockets, set()
        for end in doomed:
            with contextlib.suppress(OSError):
                end.shutdown(socket.SHUT_RDWR)
            end.close()


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """One installation; server A reaches the database through the forwarder on PostgreSQL."""
    tmp = tmp_path_factory.mktemp("faults")
    env, drop = database_env("faults", tmp)
    forwarder = None
    servers: list[Server] = []
    try:
        seeded = set_up(env)
        env_a = dict(env)
        if ON_POSTGRES:
            parts = urllib.parse.urlsplit(env["DATABASE_URL"])
            forwarder = Forwarder((parts.hostname or "127.0.0.1", parts.port or 5432))
            netloc = f"{parts.username}@127.0.0.1:{forwarder.port}" if parts.username else f"127.0.0.1:{forwarder.port}"
            env_a["DATABASE_URL"] = urllib.parse.urlunsplit(parts._replace(netloc=netloc))
        servers.append(Server(env_a, tmp))
        servers.append(Server(env, tmp))
        yield {"env": env, "a": servers[0], "b": servers[1], "seeded": seeded, "forwarder": forwarder}
    finally:
        for server in servers:
            server.stop()
        if forwarder is not None:
            forwarder.cut()
        drop()


@contextlib.contextmanager
def deal_locked(env: dict[str, str], deal: int):
    """Hold what a move of `deal` must wait for: the deal's row lock on PostgreSQL, the write lock on SQLite."""
    if ON_POSTGRES:
        import psycopg

        with psycopg.connect(env["DATABASE_URL"]) as conn:
            conn.execute("SELECT id FROM deals_deal WHERE id = %s FOR UPDATE", [deal])
            yield conn
            conn.rollback()
    else:
        path = in_django(env, "from django.db import connection\nanswer = str(connection.settings_dict['NAME'])")
        conn = sqlite3.connect(path, isolation_level=None)
        try:
            conn.execute("BEGIN IMMEDIATE")
            yield conn
            conn.execute("ROLLBACK")
        finally:
            conn.close()


def wait_until_blocked(env: dict[str, str], count: int = 1) -> None:
    """Until `count` other sessions wait on a lock (PostgreSQL); on SQLite, give them time to reach it."""
    if not ON_POSTGRES:
        time.sleep(3)
        return
    import psycopg

    deadline = time.monotonic() + 60
    with psycopg.connect(env["DATABASE_URL"], autocommit=True) as conn:
        while time.monotonic() < deadline:
            waiting = conn.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                                   "AND wait_event_type = 'Lock'").fetchone()[0]
            if waiting >= count:
                return
            time.sleep(0.1)
    raise AssertionError(f"fewer than {count} session(s) waited on the deal's lock within 60 s")


def history_count(env: dict[str, str], deal: int) -> int:
    return in_django(env, f"from dealgate.deals.models import StageHistory\n"
                          f"answer = StageHistory.objects.filter(deal_id={deal}).count()")


def stage_of(env: dict[str, str], deal: int) -> str:
    return in_django(env, f"from dealgate.deals.models import Deal\nanswer = Deal.objects.get(pk={deal}).stage.key")


def in_background(call, *args):
    answer: dict = {}

    def run() -> None:
        try:
            answer["value"] = call(*args)
        except Exception as exc:  # the connection dropped by a killed process
            answer["error"] = exc

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, answer


def move(server: Server, token: str, deal: int, stage: str) -> tuple[int, dict]:
    return api(server, "POST", f"/api/deals/{deal}/move", token, {"stage": stage})


@postgres_only
def test_postgresql_unreachable_gives_a_styled_503_then_the_same_server_recovers(site):
    """Through A: signed in, the board answers. The forwarder cuts PostgreSQL away: the board is a 503
    page in the site's style that says the database cannot be reached (no traceback, not 500), the
    API answers a 503 JSON error, /healthz says the database is down. PostgreSQL is back: the same
    server (no restart) shows the board to the same session, and a move goes through."""
    a, forwarder, seeded = site["a"], site["forwarder"], site["seeded"]
    browser = Browser()
    assert browser.sign_in(a, "alice", PASSWORD)[0] == 302
    assert browser.get(a, "/board/plain/")[0] == 200
    forwarder.cut()
    try:
        for _ in range(2):  # the kept connection fails its check, then a new one is refused
            status, page = browser.get(a, "/board/plain/")
            assert status == 503, page[-1500:]
            assert "Dealgate is unavailable for a moment" in page and "cannot reach its database" in page
            assert "dealgate.css" in page and "Traceback" not in page and "Something went wrong" not in page
        status, answer = api(a, "GET", f"/api/deals/{seeded['deal']}", seeded["alice"])
        assert status == 503 and answer["code"] == "unavailable" and "database" in answer["message"]
        status, health = browser.get(a, "/healthz")
        assert status == 503 and json.loads(health)["database"]["ok"] is False
    finally:
        forwarder.restore()
    status, page = browser.get(a, "/board/plain/")
    assert status == 200 and "Acme roll-out" in page
    assert move(a, seeded["alice"], seeded["deal"], "second")[0] == 200
    assert move(a, seeded["alice"], seeded["deal"], "first")[0] == 200


def test_a_web_process_killed_mid_request_is_replaced_and_its_move_left_nothing(site):
    """A move through A waits on the deal's lock; A's gunicorn worker is killed with SIGKILL while it
    waits. The client's request fails (no answer at all, not a 500); gunicorn starts a new worker
    and A answers again without a restart; the killed move wrote nothing (same stage, same
    history), and the same move through A now succeeds once."""
    env, a, seeded = site["env"], site["a"], site["seeded"]
    deal, token = seeded["deal"], seeded["alice"]
    assert stage_of(env, deal) == "first"
    before = history_count(env, deal)
    workers = gunicorn_workers(a)
    assert len(workers) == 1
    with deal_locked(env, deal):
        thread, answer = in_background(move, a, token, deal, "second")
        wait_until_blocked(env)
        os.kill(workers[0], signal.SIGKILL)
        thread.join(60)
    assert "value" not in answer and isinstance(answer["error"], (urllib.error.URLError, ConnectionError, OSError))
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError):
            if urllib.request.urlopen(a.base + "/login/", timeout=30).status == 200:
                break
        time.sleep(0.5)
    assert a.process.poll() is None and gunicorn_workers(a) and gunicorn_workers(a) != workers
    assert stage_of(env, deal) == "first" and history_count(env, deal) == before
    assert move(a, token, deal, "second")[0] == 200
    assert history_count(env, deal) == before + 1
    assert move(a, token, deal, "first")[0] == 200


def gunicorn_workers(server: Server) -> list[int]:
    found = subprocess.run(["ps", "-o", "pid=", "--ppid", str(server.process.pid)], capture_output=True, text=True)
    return [int(pid) for pid in found.stdout.split()]


FOLLOW_UP_RULE_AND_MOVE = """
from dealgate.automation.services import create_rule
from dealgate.deals import services as deals
from dealgate.deals.models import Account
from dealgate.pipelines.models import Pipeline
from django.contrib.auth.models import User
alice = User.objects.get(username="alice")
plain = Pipeline.objects.get(key="plain")
rule = create_rule(by=None, name="Follow up", pipeline=plain, trigger="stage_entered", trigger_stage="second",
                   actions=[{"type": "create_task", "title": "Follow up on {deal}", "due_in_days": 3}])
deal = deals.create_deal(by=alice, title="Killed worker order", account=Account.objects.get(name="Acme"),
                         pipeline=plain, amount=500)
deals.move_deal(deal, "second", by=alice)
answer = [rule.pk, deal.pk, f"history:{deal.history.latest('pk').pk}"]
"""

COUNTS = """
from django_tasks_db.models import DBTaskResult
from dealgate.automation.models import RuleRun, Task
answer = [list(Task.objects.filter(deal_id={deal}).values_list("title", flat=True)),
          RuleRun.objects.filter(rule_id={rule}).count(),
          DBTaskResult.objects.filter(status="RUNNING").count()]
"""

JOBS = """
from django_tasks_db.models import DBTaskResult
answer = list(DBTaskResult.objects.order_by("pk").values_list("task_path", "status", "args_kwargs"))
"""


@postgres_only
def test_a_worker_killed_mid_job_leaves_the_job_to_be_completed_exactly_once(site):
    """A rule creates a follow-up task when a deal enters Second; a deal is moved there (one job
    queued with the move). The test holds a claim on that occurrence in a transaction it keeps open
    (as a second worker racing for it would), so a `dealgate worker` taking the job waits inside its
    own transaction, at its claim; it is killed with SIGKILL there, and the test's claim is rolled
    back. The killed run kept nothing: no task, no rule run, its job left RUNNING. The next worker
    requeues the job and completes it: one task, one rule run; a further worker run repeats nothing.

    (Holding the deal's row lock instead would stop the worker at COMMIT, PostgreSQL's deferred
    foreign-key check: a worker killed there has already committed, and the rerun finds the claim.)"""
    env = site["env"]
    dealgate(env, "worker", "--batch", "--no-scans")  # jobs the other tests queued
    rule, deal, occurrence = in_django(env, FOLLOW_UP_RULE_AND_MOVE)
    counts = COUNTS.format(deal=deal, rule=rule)
    assert in_django(env, counts) == [[], 0, 0], in_django(env, JOBS)  # queued, not run yet
    with claim_held(env, rule, deal, occurrence):
        worker = subprocess.Popen([sys.executable, "-m", "dealgate.cli", "worker", "--no-scans"], env=env,
                                  cwd=env["DEALGATE_DATA_DIR"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            wait_until_blocked(env)
        finally:
            worker.kill()
            worker.wait(30)
    wait_until_blocked_sessions_end(env)
    assert in_django(env, counts) == [[], 0, 1]  # nothing of the killed run was kept; its job is left running
    done = dealgate(env, "worker", "--batch", "--no-scans", "--requeue-after", "0")
    assert "Requeued 1 job(s)" in done.stdout
    assert in_django(env, counts) == [["Follow up on Killed worker order"], 1, 0]
    dealgate(env, "worker", "--batch", "--no-scans", "--requeue-after", "0")
    assert in_django(env, counts) == [["Follow up on Killed worker order"], 1, 0]


@contextlib.contextmanager
def claim_held(env: dict[str, str], rule: int, deal: int, occurrence: str):
    """A RuleRun claim on the occurrence, inserted in a transaction held open, then rolled back."""
    import psycopg

    with psycopg.connect(env["DATABASE_URL"]) as conn:
        conn.execute("INSERT INTO automation_rulerun (rule_id, deal_id, trigger, occurrence, at, outcome, actions, error) "
                     "VALUES (%s, %s, 'stage_entered', %s, now(), 'done', '[]', '')", [rule, deal, occurrence])
        yield
        conn.rollback()


def wait_until_blocked_sessions_end(env: dict[str, str]) -> None:
    """The killed worker's PostgreSQL session notices its client is gone once the lock is free."""
    import psycopg

    deadline = time.monotonic() + 60
    with psycopg.connect(env["DATABASE_URL"], autocommit=True) as conn:
        while time.monotonic() < deadline:
            busy = conn.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                                "AND pid <> pg_backend_pid() AND state <> 'idle'").fetchone()[0]
            if busy == 0:
                return
            time.sleep(0.1)
    raise AssertionError("the killed worker's session did not end within 60 s")


def test_two_web_processes_moving_the_same_deal_one_wins_the_other_gets_the_conflict(site):
    """The same move to Second is sent through A and through B while the deal is locked, so both
    wait inside their requests; once free, one moves the deal (200) and the other is told it is
    already there (409, the conflict message); one new history row."""
    env, a, b, seeded = site["env"], site["a"], site["b"], site["seeded"]
    deal, token = seeded["deal"], seeded["alice"]
    assert stage_of(env, deal) == "first"
    before = history_count(env, deal)
    with deal_locked(env, deal):
        first, first_answer = in_background(move, a, token, deal, "second")
        second, second_answer = in_background(move, b, token, deal, "second")
        wait_until_blocked(env, 2)
    first.join(60)
    second.join(60)
    answers = sorted([first_answer["value"], second_answer["value"]], key=lambda answer: answer[0])
    assert [status for status, _ in answers] == [200, 409]
    assert answers[1][1]["code"] == "conflict" and answers[1][1]["message"] == f"Deal {deal} is already in Second."
    assert stage_of(env, deal) == "second" and history_count(env, deal) == before + 1
    assert move(a, token, deal, "first")[0] == 200
