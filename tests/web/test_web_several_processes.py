"""Two web servers on one database behave as one installation (decision 032).

Each server is a real gunicorn process started as `dealgate serve` starts it, on its own port; the
test drives them over HTTP like a load balancer sending one user's requests to either. Each process
keeps its own caches (pipeline rules, analytics figures): they must never answer from a copy that
another process's write has made stale. Runs on the test run's database kind (PostgreSQL with
DATABASE_URL, else a SQLite file shared by the processes).
"""

from __future__ import annotations

import datetime as dt
import subprocess
import sys

import pytest

from tests.web.installation import Browser, Server, api, database_env, dealgate, in_django, set_up

PASSWORD = "correct-horse-battery"
LIMIT = 3  # DEALGATE_LOGIN_MAX_FAILURES for these servers


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("several-processes")
    env, drop = database_env("several", tmp)
    env.update(DEALGATE_LOGIN_MAX_FAILURES=str(LIMIT), DEALGATE_ANALYTICS_THREADS="2")
    servers: list[Server] = []
    try:
        seeded = set_up(env)
        servers.append(Server(env, tmp))
        servers.append(Server(env, tmp))
        yield servers[0], servers[1], seeded
    finally:
        for server in servers:
            server.stop()
        drop()


def test_a_criterion_added_through_one_process_gates_the_next_move_through_the_other(site):
    """B moves the deal First -> Second and back (B now holds the plain pipeline's rules, with no
    criteria, in its cache). An admin adds an entry criterion to Second through A: amount above
    1,000,000. The deal's amount is 1,000, so the same move through B is refused at once (409,
    the criterion named) instead of being let through by B's cached rules."""
    a, b, seeded = site
    deal, rep, admin = seeded["deal"], seeded["alice"], seeded["dave"]
    assert api(b, "POST", f"/api/deals/{deal}/move", rep, {"stage": "second"})[0] == 200
    assert api(b, "POST", f"/api/deals/{deal}/move", rep, {"stage": "first"})[0] == 200
    status, _ = api(a, "POST", "/api/pipelines/plain/stages/second/criteria", admin, {
        "phase": "entry", "key": "big", "label": "Amount above a million", "kind": "field",
        "config": {"field": "amount", "op": "gt", "value": 1_000_000}})
    assert status == 201
    status, answer = api(b, "POST", f"/api/deals/{deal}/move", rep, {"stage": "second"})
    assert status == 409 and answer["code"] == "move_blocked"
    assert [unmet["key"] for unmet in answer["details"]["unmet"]] == ["big"]
    status, _ = api(a, "DELETE", "/api/pipelines/plain/stages/second/criteria/big", admin)
    assert status == 204
    assert api(b, "POST", f"/api/deals/{deal}/move", rep, {"stage": "second"})[0] == 200  # removed: free again
    assert api(a, "POST", f"/api/deals/{deal}/move", rep, {"stage": "first"})[0] == 200


def test_figures_cached_by_one_process_follow_a_deal_won_through_the_other(site):
    """A answers the metrics as of today, so every request asks for the same figures and A keeps
    them in its cache (no deal won yet: 0 won, 0.00). Through B the rep adds a deal of 2,500 and
    wins it: A's next answer counts 1 won deal worth 2,500.00, not its cached 0."""
    a, b, seeded = site
    rep, admin = seeded["alice"], seeded["dave"]
    today = dt.datetime.now(dt.timezone.utc).date().isoformat()
    status, before = api(a, "GET", f"/api/metrics?pipeline=plain&as_of={today}", admin)
    assert status == 200, before
    status, deal = api(b, "POST", "/api/deals", rep, {"title": "Second order", "account": seeded["account"],
                                                       "pipeline": "plain", "amount": "2500"})
    assert status == 201
    assert api(b, "POST", f"/api/deals/{deal['id']}/move", rep, {"stage": "won"})[0] == 200
    status, after = api(a, "GET", f"/api/metrics?pipeline=plain&as_of={today}", admin)
    assert status == 200
    assert (before["metrics"]["won"], before["metrics"]["won_amount"]) == (0, "0.00")
    assert (after["metrics"]["won"], after["metrics"]["won_amount"]) == (1, "2500.00")


def test_failed_sign_ins_are_counted_across_processes(site):
    """The limit is 3 failures. Two wrong passwords through A and one through B make 3 for bob from
    this address, so the right password through A is refused (429): each process alone has seen
    fewer than 3. Another user is not affected, and the session they get through A works on B."""
    a, b, _ = site
    browser = Browser()
    assert browser.sign_in(a, "bob", "wrong")[0] == 200  # the form again, with the error
    assert browser.sign_in(a, "bob", "wrong")[0] == 200
    assert browser.sign_in(b, "bob", "wrong")[0] == 200
    status, page = browser.sign_in(a, "bob", PASSWORD)
    assert status == 429 and "Too many failed sign-ins" in page
    assert browser.sign_in(b, "alice", PASSWORD)[0] == 302
    status, page = browser.get(a, "/board/plain/")
    assert status == 200 and "Acme roll-out" in page


FOLLOW_UP_RULE = """
from dealgate.automation.services import create_rule
from dealgate.pipelines.models import Pipeline
rule = create_rule(by=None, name="Follow up", pipeline=Pipeline.objects.get(key="plain"), trigger="stage_entered",
                   trigger_stage="second", actions=[{"type": "create_task", "title": "Follow up on {deal}", "due_in_days": 3}])
answer = rule.pk
"""


def test_two_workers_run_a_rule_job_once(site):
    """The queue is emptied first (jobs of the other tests), then a rule is added: entering Second
    creates a follow-up task. A new deal is moved into Second through B (one job queued in the
    database). Two `dealgate worker --batch` processes run at once: the task exists once, from one
    rule run."""
    a, b, seeded = site
    env = a.env
    dealgate(env, "worker", "--batch", "--no-scans")
    rule = in_django(env, FOLLOW_UP_RULE)
    rep = seeded["alice"]
    status, deal = api(b, "POST", "/api/deals", rep, {"title": "Third order", "account": seeded["account"],
                                                       "pipeline": "plain", "amount": "700"})
    assert status == 201
    assert api(b, "POST", f"/api/deals/{deal['id']}/move", rep, {"stage": "second"})[0] == 200
    workers = [subprocess.Popen([sys.executable, "-m", "dealgate.cli", "worker", "--batch", "--no-scans"], env=env,
                                cwd=env["DEALGATE_DATA_DIR"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
               for _ in range(2)]
    outputs = [worker.communicate(timeout=300)[0] for worker in workers]
    assert [worker.returncode for worker in workers] == [0, 0], outputs
    assert in_django(env, f"""
from dealgate.automation.models import RuleRun, Task
answer = [list(Task.objects.filter(deal_id={deal['id']}).values_list("title", flat=True)),
          RuleRun.objects.filter(rule_id={rule}).count()]
""") == [["Follow up on Third order"], 1]
