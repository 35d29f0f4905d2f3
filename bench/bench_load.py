"""Load: simulated users against `dealgate serve` (gunicorn + the worker) on PostgreSQL (issue 16).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/dealgate_load \\
        .venv/bin/python bench/bench_load.py --deals 10000 --minutes 2

Fills the database with the demo up to --deals deals (once), gives each rep an API token, starts
`dealgate serve` on 127.0.0.1 with its worker, then runs --users simulated users (threads, one
signed-in session each) for --minutes: open a board, open a deal, log an activity, move a deal
one stage forward or back. Prints p50/p95 per action, every status seen, the 5xx count (must be
0), the most PostgreSQL connections seen on the database (pg_stat_activity sampled twice a
second), and checks that the successful moves equal the new stage-history rows. Exit code 1 when
a 5xx happened or the moves and history rows differ. A plain threaded client (standard library):
no new dependency, and every answer is counted exactly, which the moves = history check needs.
"""

from __future__ import annotations

import argparse
import collections
import http.cookiejar
import json
import os
import random
import re
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ACTIONS = {"board": 3, "deal page": 3, "log activity": 2, "move": 2}  # weights

SETUP = r"""
import json, django
django.setup()
from django.contrib.auth.models import User
from dealgate.api.services import create_token
from dealgate.deals.models import Deal
from dealgate.people.access import role_of
from dealgate.pipelines.models import Stage
reps = [user for user in User.objects.filter(is_active=True).order_by("pk") if role_of(user) == "rep"]
stages = {}
for stage in Stage.objects.filter(kind="open").order_by("pipeline_id", "position"):
    stages.setdefault(stage.pipeline_id, []).append(stage.key)
users = []
for user in reps:
    deals = list(Deal.objects.filter(owner=user, stage__kind="open").values_list("pk", "pipeline_id", "pipeline__key")[:300])
    if deals:
        users.append({"username": user.username, "token": create_token(user=user, name="bench-load")[1],
                      "deals": deals})
from dealgate.demo.generator import DEMO_PASSWORD
print(json.dumps({"users": users, "stages": {str(k): v for k, v in stages.items()}, "password": DEMO_PASSWORD}))
"""

DEAL_STAGES = r"""
import json, sys, django
django.setup()
from dealgate.deals.models import Deal
ids = json.loads(sys.stdin.read())
print(json.dumps({str(pk): key for pk, key in Deal.objects.filter(pk__in=ids).values_list("pk", "stage__key")}))
"""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def django_run(env: dict[str, str], code: str, stdin: str = "") -> dict:
    done = subprocess.run([sys.executable, "-c", code], env=dict(env, DJANGO_SETTINGS_MODULE="dealgate.settings"),
                          input=stdin, capture_output=True, text=True, timeout=3600, cwd=env["DEALGATE_DATA_DIR"])
    if done.returncode != 0:
        sys.exit(done.stderr[-3000:])
    return json.loads(done.stdout.strip().splitlines()[-1])


def dealgate(env: dict[str, str], *args: str) -> None:
    done = subprocess.run([sys.executable, "-m", "dealgate.cli", *args], env=env, cwd=env["DEALGATE_DATA_DIR"],
                          capture_output=True, text=True, timeout=7200)
    if done.returncode != 0:
        sys.exit(done.stdout[-2000:] + done.stderr[-2000:])


def sql(url: str, query: str):
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        return conn.execute(query).fetchone()[0]


class Stats:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.times: dict[str, list[float]] = collections.defaultdict(list)
        self.statuses: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
        self.moved = 0

    def add(self, action: str, status: int, seconds: float) -> None:
        with self.lock:
            self.times[action].append(seconds)
            self.statuses[action][status] += 1


class User:
    """One simulated rep: a signed-in session for pages, the rep's token for the API writes."""

    def __init__(self, base: str, profile: dict, password: str, stages: dict[str, list[str]], stats: Stats, seed: int):
        self.base, self.profile, self.stages, self.stats = base, profile, stages, stats
        self.random = random.Random(seed)
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
        page = self.open("/login/")[1]
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)[1]
        form = urllib.parse.urlencode({"csrfmiddlewaretoken": token, "username": profile["username"],
                                       "password": password}).encode()
        status, _ = self.open("/login/", data=form, headers={"Referer": base + "/login/"})
        if status != 200:
            raise SystemExit(f"sign-in of {profile['username']} answered {status}")
        self.where: dict[int, str] = {}

    def open(self, path: str, *, data: bytes | None = None, headers: dict | None = None,
             method: str | None = None) -> tuple[int, str]:
        request = urllib.request.Request(self.base + path, data=data, headers=headers or {}, method=method)
        try:
            with self.opener.open(request, timeout=120) as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode()
        except OSError:
            return 599, ""  # no answer at all: counted with the server errors

    def api(self, method: str, path: str, body: dict) -> tuple[int, str]:
        return self.open(path, data=json.dumps(body).encode(), method=method,
                         headers={"Authorization": f"Bearer {self.profile['token']}", "Content-Type": "application/json"})

    def step(self) -> None:
        action = self.random.choices(list(ACTIONS), weights=list(ACTIONS.values()))[0]
        deal, pipeline_id, pipeline_key = self.random.choice(self.profile["deals"])
        started = time.perf_counter()
        if action == "board":
            status, _ = self.open(f"/board/{pipeline_key}/")
        elif action == "deal page":
            status, _ = self.open(f"/deals/{deal}/")
        elif action == "log activity":
            status, _ = self.api("POST", "/api/activities", {"kind": "call", "subject": "Load bench call", "deal": deal})
        else:
            keys = self.stages[str(pipeline_id)]
            here = self.where.get(deal, self.profile["where"].get(str(deal), keys[0]))
            position = keys.index(here) if here in keys else 0
            target = keys[position + 1] if position + 1 < len(keys) and self.random.random() < 0.5 else keys[max(0, position - 1)]
            if target == here:
                target = keys[min(len(keys) - 1, position + 1)]
            status, answer = self.api("POST", f"/api/deals/{deal}/move", {"stage": target})
            if status == 200:
                self.where[deal] = target
                with self.stats.lock:
                    self.stats.moved += 1
            elif status == 409 and '"conflict"' in answer:
                self.where.pop(deal, None)
        self.stats.add(action, status, time.perf_counter() - started)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--deals", type=int, default=100_000)
    parser.add_argument("--minutes", type=float, default=5.0)
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--web-workers", type=int, default=2, help="gunicorn processes (default 2)")
    parser.add_argument("--threads", type=int, default=4, help="threads per gunicorn process (default 4)")
    parser.add_argument("--think", type=float, default=1.0, help="mean pause between a user's actions, seconds")
    args = parser.parse_args()
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith(("postgres://", "postgresql://")):
        sys.exit("Set DATABASE_URL=postgres://... : the load bench runs on PostgreSQL.")
    data_dir = Path(os.environ.get("DEALGATE_DATA_DIR", ROOT / "bench" / ".data" / "load"))
    data_dir.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, PYTHONPATH=str(ROOT), DEALGATE_DATA_DIR=str(data_dir))
    dealgate(env, "migrate", "--verbosity", "0")
    have = sql(url, "SELECT count(*) FROM deals_deal")
    if have < args.deals:
        print(f"generating {args.deals - have:,} demo deals...", flush=True)
        dealgate(env, "demo", "--deals", str(args.deals - have), "--seed", str(11 + have))
    deals = sql(url, "SELECT count(*) FROM deals_deal")
    setup = django_run(env, SETUP)
    users, stages = setup["users"], setup["stages"]
    ids = [deal for user in users for deal, _, _ in user["deals"]]
    where = django_run(env, DEAL_STAGES, json.dumps(ids))
    for user in users:
        user["where"] = where
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log = open(data_dir / "serve.log", "w+")
    server = subprocess.Popen([sys.executable, "-m", "dealgate.cli", "serve", f"127.0.0.1:{port}", "--no-demo",
                               "--workers", str(args.web_workers), "--threads", str(args.threads)],
                              env=env, cwd=data_dir, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 300
        while True:
            try:
                urllib.request.urlopen(base + "/login/", timeout=30).read()
                break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    log.seek(0)
                    sys.exit("the server did not start:\n" + log.read()[-3000:])
                time.sleep(0.5)
        history_before = sql(url, "SELECT COALESCE(MAX(id), 0) FROM deals_stagehistory")
        stats = Stats()
        load_before = os.getloadavg()
        simulated = [User(base, users[i % len(users)], setup["password"], stages, stats, seed=i) for i in range(args.users)]
        connections = [0]
        stop = threading.Event()

        def sample() -> None:
            import psycopg

            with psycopg.connect(url, autocommit=True) as conn:
                while not stop.is_set():
                    now = conn.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                                       "AND pid <> pg_backend_pid()").fetchone()[0]
                    connections[0] = max(connections[0], now)
                    time.sleep(0.5)

        def run(user: User) -> None:
            while not stop.is_set():
                user.step()
                stop.wait(user.random.expovariate(1 / args.think) if args.think > 0 else 0)

        threads = [threading.Thread(target=sample, daemon=True)] + [
            threading.Thread(target=run, args=(user,), daemon=True) for user in simulated]
        started = time.monotonic()
        for thread in threads:
            thread.start()
        time.sleep(args.minutes * 60)
        stop.set()
        for thread in threads:
            thread.join(180)
        elapsed = time.monotonic() - started
        load_after = os.getloadavg()
        new_history = sql(url, f"SELECT count(*) FROM deals_stagehistory WHERE id > {history_before}")
    finally:
        server.terminate()
        try:
            server.wait(60)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()

    server_errors = sum(count for counter in stats.statuses.values() for status, count in counter.items() if status >= 500)
    total = sum(len(samples) for samples in stats.times.values())
    print(f"{deals:,} deals on PostgreSQL {sql(url, 'SHOW server_version')}; {args.users} users for "
          f"{elapsed / 60:.1f} min; dealgate serve --workers {args.web_workers} --threads {args.threads} + its worker; "
          f"{os.cpu_count()} cores, load average {load_before[0]:.1f} before, {load_after[0]:.1f} after")
    print(f"{total:,} requests ({total / elapsed:.1f}/s)")
    print(f"{'action':<14}{'count':>7}{'p50 ms':>9}{'p95 ms':>9}  statuses")
    for action in ACTIONS:
        samples = sorted(stats.times.get(action, []))
        if not samples:
            continue
        p95 = samples[min(len(samples) - 1, int(round(0.95 * (len(samples) - 1))))]
        statuses = ", ".join(f"{status}: {count}" for status, count in sorted(stats.statuses[action].items()))
        print(f"{action:<14}{len(samples):>7}{statistics.median(samples) * 1000:>9.0f}{p95 * 1000:>9.0f}  {statuses}")
    print(f"server errors (5xx or no answer): {server_errors}")
    print(f"most PostgreSQL connections on the database at once: {connections[0]} "
          f"(bound: {args.web_workers} x ({args.threads} + analytics threads) + worker)")
    print(f"successful moves {stats.moved}, new stage-history rows {new_history}: "
          f"{'equal' if stats.moved == new_history else 'DIFFERENT'}")
    return 0 if server_errors == 0 and stats.moved == new_history else 1


if __name__ == "__main__":
    sys.exit(main())
