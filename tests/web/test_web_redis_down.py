"""With Redis chosen for the cache and Redis down, the pages still answer (decision 039).

The test starts a redis-server of its own on a free port (never the shared one on 6379), runs a
gunicorn server against it, kills Redis with SIGKILL, and reads the analytics pages and /healthz;
then starts Redis again on the same port and sees the cache back in use.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import time

import pytest

from tests.web.installation import Browser, Server, database_env, free_port, set_up

PASSWORD = "correct-horse-battery"
PAGES = {"/insights/": "<h1>Insights</h1>", "/insights/forecast/": "<h1>Forecast</h1>"}


class RedisServer:
    def __init__(self, port: int, folder):
        self.port, self.folder = port, folder
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", str(self.folder)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        import redis

        client = redis.Redis(port=self.port, socket_connect_timeout=1)
        deadline = time.monotonic() + 30
        while True:
            try:
                client.ping()
                return
            except redis.RedisError:
                if time.monotonic() > deadline:
                    raise AssertionError("redis-server did not start")
                time.sleep(0.1)

    def keys(self) -> int:
        import redis

        return len(redis.Redis(port=self.port).keys("dealgate:*"))

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()


@pytest.fixture
def site(tmp_path):
    pytest.importorskip("redis")
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server is not installed")
    redis_server = RedisServer(free_port(), tmp_path)
    redis_server.start()
    env, drop = database_env("redis_down", tmp_path)
    env["DEALGATE_REDIS_URL"] = f"redis://127.0.0.1:{redis_server.port}/0"
    server = None
    try:
        set_up(env)
        server = Server(env, tmp_path)
        yield server, redis_server
    finally:
        if server is not None:
            server.stop()
        redis_server.kill()
        drop()


def test_analytics_pages_compute_without_redis_and_healthz_says_redis_is_down(site):
    server, redis_server = site
    browser = Browser()
    assert browser.sign_in(server, "dave", PASSWORD)[0] == 302
    for page, heading in PAGES.items():
        status, body = browser.get(server, page)
        assert status == 200 and heading in body, body[-2000:]
    assert redis_server.keys() > 0  # the figures went to Redis while it answered
    status, health = browser.get(server, "/healthz")
    assert status == 200 and json.loads(health)["redis"] == {"ok": True}

    redis_server.kill()
    for page, heading in PAGES.items():
        status, body = browser.get(server, page)
        assert status == 200 and heading in body, (status, server.output())
    assert server.output().count("Redis (DEALGATE_REDIS_URL) does not answer") == 1  # one warning per outage
    assert "Traceback" not in server.output()
    status, health = browser.get(server, "/healthz")
    assert status == 200, health  # pages work: degraded, not down (the queue is in the database)
    report = json.loads(health)
    assert report["status"] == "degraded" and report["worker"]["ok"] and report["redis"]["ok"] is False
    assert "Redis (DEALGATE_REDIS_URL) does not answer" in report["redis"]["error"]

    redis_server.start()  # an empty Redis on the same port: no restart of Dealgate
    status, health = browser.get(server, "/healthz")
    assert status == 200 and json.loads(health)["status"] == "ok" and json.loads(health)["redis"] == {"ok": True}
    deadline = time.monotonic() + 30  # the process leaves Redis alone for a few seconds after a failure
    while redis_server.keys() == 0 and time.monotonic() < deadline:
        assert browser.get(server, "/insights/")[0] == 200
        time.sleep(1)
    assert redis_server.keys() > 0
    assert "answers again" in server.output()
