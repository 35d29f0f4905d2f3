"""The Redis option (decision 032): DEALGATE_REDIS_URL shares one cache between all processes, and
DEALGATE_TASK_BACKEND=rq keeps the job queue in Redis, run by `dealgate worker` as RQ's worker.

Against the local Redis, in database 7 of its own (flushed before each test, and nothing else);
skipped with the reason when Redis does not answer.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import os
import pickle
import subprocess
import sys
import tempfile

import pytest

from tests.web.installation import ROOT, Server, api, database_env, in_django, set_up

REDIS_URL = "redis://127.0.0.1:6379/7"


@pytest.fixture
def redis_db():
    redis = pytest.importorskip("redis")
    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2)
    try:
        client.ping()
    except redis.RedisError as exc:
        pytest.skip(f"Redis does not answer at {REDIS_URL}: {exc}")
    # One test at a time uses the Redis database, even across test processes (pytest-xdist) and across
    # two suites run at once (SQLite and PostgreSQL): the lock lives beside the database, not in one run's temp.
    with open(os.path.join(tempfile.gettempdir(), "dealgate-redis-7.lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        client.flushdb()
        yield client
        client.flushdb()
        client.close()


@pytest.fixture
def installation(tmp_path, redis_db):
    def make(name: str, **variables: str) -> dict[str, str]:
        env, drop = database_env(name, tmp_path)
        dropping.append(drop)
        env.update(DEALGATE_REDIS_URL=REDIS_URL, **variables)
        return env

    dropping: list = []
    yield make
    for drop in dropping:
        drop()


def test_two_servers_share_the_figures_in_redis(installation, redis_db, tmp_path):
    """A computes the metrics as of today and leaves the figures in Redis. The test then changes the
    cached count of won deals from 0 to 41 (keeping its mark, so it still looks current): B's
    answer says 41, so B took A's figure from Redis instead of computing its own (which says 0)."""
    env = installation("redis_cache")
    seeded = set_up(env)
    a, b = Server(env, tmp_path), Server(env, tmp_path)
    try:
        today = dt.datetime.now(dt.timezone.utc).date().isoformat()
        path = f"/api/metrics?pipeline=plain&as_of={today}"
        status, first = api(a, "GET", path, seeded["dave"])
        assert status == 200 and first["metrics"]["won"] == 0
        doctored = 0
        for key in redis_db.keys("dealgate:1:dealgate-figure:*"):
            mark, value = pickle.loads(redis_db.get(key))
            if isinstance(value, dict) and "won" in value and "win_rate" in value:
                redis_db.set(key, pickle.dumps((mark, {**value, "won": 41})), keepttl=True)
                doctored += 1
        assert doctored == 1
        status, second = api(b, "GET", path, seeded["dave"])
        assert status == 200 and second["metrics"]["won"] == 41
    finally:
        a.stop()
        b.stop()


SEED_RULE = """
from dealgate.automation.services import create_rule
from dealgate.deals import services as deals
from dealgate.deals.models import Deal
from django.contrib.auth.models import User
from dealgate.pipelines.models import Pipeline
create_rule(by=None, name="Follow up", pipeline=Pipeline.objects.get(key="plain"), trigger="stage_entered",
            trigger_stage="second", actions=[{"type": "create_task", "title": "Follow up on {deal}", "due_in_days": 3}])
deal = Deal.objects.get()
deals.move_deal(deal, "second", by=User.objects.get(username="alice"))
import django_rq
answer = django_rq.get_queue("default").count
"""

COUNTS = """
import django_rq
from rq.registry import FailedJobRegistry, FinishedJobRegistry
from dealgate.automation.models import RuleRun, Task
queue = django_rq.get_queue("default")
answer = {"tasks": list(Task.objects.values_list("title", flat=True)), "runs": RuleRun.objects.count(),
          "waiting": queue.count, "finished": FinishedJobRegistry(queue=queue).count,
          "failed": FailedJobRegistry(queue=queue).count}
"""


HEALTH = """
from dealgate.health import worker_heartbeat
report = worker_heartbeat()
answer = [report["ok"], report["heartbeat_age_seconds"] is not None]
"""


def test_a_rule_job_queued_in_redis_runs_once_with_two_rq_workers(installation):
    """The deal is created (one job: "created") and moved into Second (one job: "moved", which the
    rule on entering Second acts on): 2 jobs wait in Redis; the health probe queues its heartbeat
    (3) and knows of no finished one yet. Two `dealgate worker --batch` run at once as RQ workers:
    all 3 jobs finish, none fails, the rule made its task once (1 rule run), and the health probe
    now has a finished heartbeat."""
    env = installation("redis_queue", DEALGATE_TASK_BACKEND="rq")
    set_up(env)
    assert in_django(env, SEED_RULE) == 2
    assert in_django(env, HEALTH) == [True, False]
    workers = [subprocess.Popen([sys.executable, "-m", "dealgate.cli", "worker", "--batch", "--no-scans"], env=env,
                                cwd=env["DEALGATE_DATA_DIR"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
               for _ in range(2)]
    outputs = [worker.communicate(timeout=300)[0] for worker in workers]
    assert [worker.returncode for worker in workers] == [0, 0], outputs
    assert in_django(env, COUNTS) == {"tasks": ["Follow up on Acme roll-out"], "runs": 1, "waiting": 0,
                                      "finished": 3, "failed": 0}
    assert in_django(env, HEALTH) == [True, True]


def test_the_worker_says_so_when_redis_does_not_answer(installation):
    """A Redis URL where nothing listens: the worker stops with a message naming the setting, no traceback."""
    env = installation("redis_down", DEALGATE_TASK_BACKEND="rq")
    env["DEALGATE_REDIS_URL"] = "redis://127.0.0.1:1/7"
    done = subprocess.run([sys.executable, "-m", "dealgate.cli", "worker", "--batch", "--no-scans"], env=env,
                          cwd=env["DEALGATE_DATA_DIR"], capture_output=True, text=True, timeout=120)
    assert done.returncode != 0
    assert "DEALGATE_REDIS_URL" in done.stderr and "Traceback" not in done.stderr + done.stdout


@pytest.mark.parametrize(("variables", "message"), [
    ({"DEALGATE_TASK_BACKEND": "rq"}, "DEALGATE_TASK_BACKEND=rq keeps the queue in Redis: set DEALGATE_REDIS_URL"),
    ({"DEALGATE_REDIS_URL": "127.0.0.1:6379"}, "DEALGATE_REDIS_URL='127.0.0.1:6379' must start with redis://"),
    ({"DEALGATE_TASK_BACKEND": "celery"}, "DEALGATE_TASK_BACKEND='celery'; choose one of database, immediate, rq."),
])
def test_a_redis_setting_that_cannot_work_stops_the_start_with_its_name(tmp_path, variables, message):
    env = {name: value for name, value in os.environ.items() if name not in ("DEALGATE_TASK_BACKEND", "DEALGATE_REDIS_URL")}
    env.update(PYTHONPATH=str(ROOT), DEALGATE_DATA_DIR=str(tmp_path), DJANGO_SETTINGS_MODULE="dealgate.settings",
               **variables)
    done = subprocess.run([sys.executable, "-c", "import django; django.setup()"], env=env, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode != 0 and message in done.stderr
