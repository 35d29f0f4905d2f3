"""Pages over HTTP under the production server (issue 16): insights, forecast, board, deal page, board drop.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/dealgate_load \\
        .venv/bin/python bench/bench_pages.py --deals 100000 [--cold 3] [--warm 10] [--drops 40]

Uses the database bench_load.py fills (the demo up to --deals deals, generated once). Starts
`dealgate serve` (gunicorn, --workers 2 --threads 4 by default, DEBUG off, the default per-process
figure cache) on 127.0.0.1 and times, for a rep (the rep with the most open deals) and for the admin:

  * cold: the first /insights/, /insights/forecast/, the board of the rep's busiest pipeline and the
    page of the rep's deal with the longest stage history, on a freshly started server (nothing cached
    in it), --cold times, each on a new server;
  * warm: the same pages again, --warm times each after every process has answered them once
    (median; nothing written in between, so the figures come from the cache as a manager's second
    look would);
  * board drop: the rep drops one of their cards on the column before it, as board.js does (an htmx
    POST to /deals/<id>/move/ that re-renders the two columns), --drops times; then moves it back;
  * after a write: a drop, then both pages for both roles (nothing as of now can come from the
    cache: what a team that writes all day sees), --cold times.

Prints medians and worst cases per page and role, the statuses seen (any other than 200 is
reported) and the load average. Targets (issue 16): insights < 200 ms warm, forecast < 400 ms warm
and < 1 s cold, board drop < 60 ms median, at 100,000 deals on PostgreSQL.
"""

from __future__ import annotations

import argparse
import http.cookiejar
import json
import os
import re
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

from bench_load import ROOT, dealgate, django_run, free_port, sql

SETUP = r"""
import json, django
django.setup()
from django.contrib.auth.models import User
from django.db.models import Count, Q
from dealgate.deals.models import Deal
from dealgate.people.access import role_of
from dealgate.pipelines.models import Stage
from dealgate.demo.generator import DEMO_PASSWORD
reps = [u for u in User.objects.filter(is_active=True).annotate(
    open_deals=Count("deals", filter=Q(deals__stage__kind="open"))).order_by("-open_deals") if role_of(u) == "rep"]
rep = reps[0]
admin = next(u for u in User.objects.filter(is_active=True, is_superuser=True).order_by("pk"))
previous = {}
for stage in Stage.objects.filter(kind="open").order_by("pipeline_id", "position"):
    previous.setdefault(stage.pipeline_id, []).append(stage.pk)
drops = []
for pk, pipeline_id, stage_id in Deal.objects.filter(owner=rep, stage__kind="open").values_list(
        "pk", "pipeline_id", "stage_id").order_by("pk"):
    order = previous[pipeline_id]
    if order.index(stage_id) > 0:
        drops.append([pk, stage_id, order[order.index(stage_id) - 1]])
from dealgate.deals.models import StageHistory
# The board a rep opens (their busiest pipeline) and the deal page that costs most to draw (their deal with
# the longest stage history): the same two paths for both roles, so rep and admin figures compare.
busiest = Deal.objects.filter(owner=rep, stage__kind="open").values("pipeline__key").annotate(
    n=Count("pk")).order_by("-n", "pipeline__key")[0]["pipeline__key"]
longest = StageHistory.objects.filter(deal__owner=rep).values("deal_id").annotate(
    n=Count("pk")).order_by("-n", "deal_id")[0]
print(json.dumps({"rep": rep.username, "admin": admin.username, "password": DEMO_PASSWORD, "drops": drops[:400],
                  "board": f"/board/{busiest}/", "deal": f"/deals/{longest['deal_id']}/",
                  "deal_history": longest["n"]}))
"""


class Session:
    def __init__(self, base: str, username: str, password: str):
        self.base = base
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
        page = self.get("/login/")[1]
        form = {"csrfmiddlewaretoken": self.csrf(page), "username": username, "password": password}
        status, _ = self.post("/login/", form, {"Referer": base + "/login/"})
        if status != 200:
            sys.exit(f"sign-in of {username} answered {status}")

    @staticmethod
    def csrf(page: str) -> str:
        return re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)[1]

    def _open(self, request: urllib.request.Request) -> tuple[int, str]:
        try:
            with self.opener.open(request, timeout=300) as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode()

    def get(self, path: str) -> tuple[int, str]:
        return self._open(urllib.request.Request(self.base + path))

    def post(self, path: str, form: dict, headers: dict) -> tuple[int, str]:
        return self._open(urllib.request.Request(self.base + path, data=urllib.parse.urlencode(form).encode(),
                                                 headers=headers))

    def timed(self, path: str) -> tuple[float, int]:
        started = time.perf_counter()
        status, _ = self.get(path)
        return (time.perf_counter() - started) * 1000, status


class Server:
    def __init__(self, env: dict[str, str], data_dir: Path, workers: int, threads: int):
        self.base = f"http://127.0.0.1:{free_port()}"
        self.log = open(data_dir / "serve-pages.log", "w+")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "dealgate.cli", "serve", self.base.rsplit("/", 1)[1], "--no-demo",
             "--workers", str(workers), "--threads", str(threads)],
            env=env, cwd=data_dir, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 300
        while True:
            try:
                urllib.request.urlopen(self.base + "/healthz", timeout=30).read()
                return
            except urllib.error.HTTPError:
                return  # answering (a worker heartbeat may still be missing)
            except OSError:
                if time.monotonic() > deadline or self.process.poll() is not None:
                    self.log.seek(0)
                    sys.exit("the server did not start:\n" + self.log.read()[-3000:])
                time.sleep(0.3)

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(60)
        except subprocess.TimeoutExpired:
            self.process.kill()
        self.log.close()


PAGES = {"insights": "/insights/", "forecast": "/insights/forecast/"}


def summary(samples: list[float]) -> str:
    return f"median {statistics.median(samples):7.0f} ms, worst {max(samples):7.0f} ms (n={len(samples)})"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--deals", type=int, default=100_000)
    parser.add_argument("--cold", type=int, default=3, help="fresh servers for the cold figures")
    parser.add_argument("--warm", type=int, default=10)
    parser.add_argument("--drops", type=int, default=40)
    parser.add_argument("--web-workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=4)
    args = parser.parse_args()
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith(("postgres://", "postgresql://")):
        sys.exit("Set DATABASE_URL=postgres://... : the page bench runs on PostgreSQL.")
    data_dir = Path(os.environ.get("DEALGATE_DATA_DIR", ROOT / "bench" / ".data" / "pages"))
    data_dir.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, PYTHONPATH=str(ROOT), DEALGATE_DATA_DIR=str(data_dir))
    env.pop("REDIS_URL", None)  # the default per-process cache: "cold" is a new process
    dealgate(env, "migrate", "--verbosity", "0")
    if sql(url, "SELECT count(*) FROM deals_deal") < args.deals:
        dealgate(env, "demo", "--deals", str(args.deals - sql(url, "SELECT count(*) FROM deals_deal")), "--seed", "11")
    deals = sql(url, "SELECT count(*) FROM deals_deal")
    setup = django_run(env, SETUP)
    roles = {"rep": setup["rep"], "admin": setup["admin"]}
    pages = dict(PAGES, board=setup["board"], deal=setup["deal"])
    load_before = os.getloadavg()[0]
    times: dict[tuple[str, str, str], list[float]] = {}
    statuses: dict[int, int] = {}

    def record(key: tuple[str, str, str], sample: tuple[float, int]) -> None:
        times.setdefault(key, []).append(sample[0])
        statuses[sample[1]] = statuses.get(sample[1], 0) + 1

    for _ in range(args.cold):
        server = Server(env, data_dir, args.web_workers, args.threads)
        try:
            for role, username in roles.items():
                session = Session(server.base, username, setup["password"])
                for page, path in pages.items():
                    record((role, page, "cold"), session.timed(path))
        finally:
            server.stop()

    server = Server(env, data_dir, args.web_workers, args.threads)
    try:
        sessions = {role: Session(server.base, username, setup["password"]) for role, username in roles.items()}
        for role, session in sessions.items():
            for page, path in pages.items():
                for _ in range(2 * args.web_workers):  # every process computes (and caches) it once
                    session.get(path)
                for _ in range(args.warm):
                    record((role, page, "warm"), session.timed(path))
        rep = sessions["rep"]
        board_page = rep.get("/")[1]
        token = Session.csrf(board_page)
        headers = {"HX-Request": "true", "X-CSRFToken": token, "Referer": server.base + "/"}

        def drop(pk: int, here: int, before: int) -> None:
            for to in (before, here):  # drop on the column before, then back where it was
                started = time.perf_counter()
                status, _ = rep.post(f"/deals/{pk}/move/", {"to": to, "expected": here if to == before else before,
                                                            "origin": "board", "board_query": ""}, headers)
                sample = ((time.perf_counter() - started) * 1000, status)
                record(("rep", "board drop", f"{'back' if to == before else 'forward'} {status}"), sample)

        for pk, here, before in setup["drops"][:args.drops]:
            drop(pk, here, before)
        for pk, here, before in setup["drops"][args.drops:args.drops + args.cold]:
            drop(pk, here, before)  # a write: the figures as of now are computed again
            for role, session in sessions.items():
                for page, path in pages.items():
                    record((role, page, "after a write"), session.timed(path))
    finally:
        server.stop()

    print(f"{deals:,} deals on PostgreSQL {sql(url, 'SHOW server_version')}; dealgate serve --workers "
          f"{args.web_workers} --threads {args.threads} (gunicorn, DEBUG off, per-process figure cache); "
          f"{os.cpu_count()} cores, load average {load_before:.1f} before, {os.getloadavg()[0]:.1f} after; "
          f"rep {roles['rep']}, admin {roles['admin']}; board {setup['board']}, deal page {setup['deal']} "
          f"({setup['deal_history']} stage-history rows)")
    for (role, page, kind), samples in times.items():
        print(f"{role:<6}{page:<11}{kind:<14}{summary(samples)}")
    print("statuses: " + json.dumps(statuses))
    return 0 if set(statuses) <= {200} or set(statuses) <= {200, 409} else 1


if __name__ == "__main__":
    sys.exit(main())
