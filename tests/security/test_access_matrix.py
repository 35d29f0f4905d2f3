"""Who gets what: the expected answer of every URL pattern for every role, in one table.

Generated from the same URL enumeration as the hostile-input walk (tests/security/urlwalk.py). A
URL pattern missing from RULES fails the suite: a new endpoint needs an access rule before it ships.
The objects in the URLs belong to team A (East); rep B (carol, West) must not reach them, the
manager of A (bob) must. A deal of team B is then looked for on every page that lists, totals or
exports deals: the manager of A must not find it anywhere.

Answers are classes, not exact codes, because the table is about access, not about what an empty
form gets: OK is any answer past the access check (2xx, a redirect elsewhere than the sign-in
page, or a 400/409/422 about the input); LOGIN is a redirect to a sign-in page; 401, 403 and 404
are themselves.
"""

from __future__ import annotations

import re

import pytest

from tests.security import urlwalk

OK, LOGIN, UNAUTH, DENIED, HIDDEN = "ok", "login", 401, 403, 404
HEALTH = "health"  # /healthz: 200, or 503 when the worker's heartbeat is late; never a redirect
ROLES = urlwalk.ROLES  # anonymous, rep_a, rep_b, manager_a, admin
EVERYONE_SIGNED_IN = (LOGIN, OK, OK, OK, OK)
TEAM_A_ONLY = (LOGIN, OK, HIDDEN, OK, OK)  # objects of team A: rep B may not know they exist
ADMIN_ONLY = (LOGIN, DENIED, DENIED, DENIED, OK)
API_SIGNED_IN = (UNAUTH, OK, OK, OK, OK)
API_TEAM_A = (UNAUTH, OK, HIDDEN, OK, OK)
PUBLIC = (OK, OK, OK, OK, OK)
STAFF = "staff"  # past Django's admin sign-in: what the admin then allows is Django's (read-only models: 403)
DJANGO_ADMIN = (LOGIN, LOGIN, LOGIN, LOGIN, STAFF)  # Django's admin: staff only (our admins)
API_ADMIN_ONLY = (UNAUTH, DENIED, DENIED, DENIED, OK)
API_MANAGERS = (UNAUTH, DENIED, DENIED, OK, OK)  # imports: managers and admins
# The API's directory of accounts and contacts is company-wide by design (dealgate/api/routers/accounts.py)
API_DIRECTORY = API_SIGNED_IN
OWN_ONLY = (LOGIN, OK, HIDDEN, HIDDEN, HIDDEN)
MANAGERS = (LOGIN, DENIED, DENIED, OK, OK)  # alice's alone (her token, her notification): not even an admin's

# route -> (method used to probe it, expected answer per role in ROLES order)
RULES: dict[str, tuple[str, tuple]] = {
    # pages
    "": ("GET", EVERYONE_SIGNED_IN),
    "login/": ("GET", PUBLIC),
    "logout/": ("POST", (LOGIN,) * 5),  # signed out, back to the sign-in page
    "board/<slug:key>/": ("GET", EVERYONE_SIGNED_IN),
    "board/<slug:key>/column/<int:stage_id>/": ("GET", EVERYONE_SIGNED_IN),
    "deals/": ("GET", EVERYONE_SIGNED_IN),
    "deals/new/": ("POST", EVERYONE_SIGNED_IN),  # every role creates; the form offers owners by role
    "deals/<int:pk>/": ("GET", TEAM_A_ONLY),
    "deals/<int:pk>/move/": ("POST", TEAM_A_ONLY),
    "deals/<int:pk>/panel/<str:mode>/": ("GET", TEAM_A_ONLY),
    "deals/<int:pk>/do/<str:action>/": ("POST", TEAM_A_ONLY),
    "my-day/": ("GET", EVERYONE_SIGNED_IN),
    "accounts/": ("GET", EVERYONE_SIGNED_IN),
    "accounts/new/": ("POST", EVERYONE_SIGNED_IN),
    "accounts/<int:pk>/": ("GET", TEAM_A_ONLY),
    "contacts/": ("GET", EVERYONE_SIGNED_IN),
    "contacts/new/": ("POST", EVERYONE_SIGNED_IN),
    "settings/": ("GET", ADMIN_ONLY),
    "settings/audit/": ("GET", ADMIN_ONLY),
    "settings/rules/": ("GET", ADMIN_ONLY),
    "settings/rules/new/": ("GET", ADMIN_ONLY),
    "settings/rules/<int:pk>/edit/": ("GET", ADMIN_ONLY),
    "settings/rules/<int:pk>/delete/": ("POST", ADMIN_ONLY),
    "settings/rules/<int:pk>/enabled/": ("POST", ADMIN_ONLY),
    "settings/rules/<int:pk>/test/": ("GET", ADMIN_ONLY),
    "settings/webhooks/<int:pk>/send/": ("POST", ADMIN_ONLY),
    "settings/users/": ("GET", ADMIN_ONLY),
    "settings/users/<str:action>/": ("POST", ADMIN_ONLY),
    "settings/users/<str:action>/<int:target>/": ("POST", ADMIN_ONLY),
    # quotas: admins any, a manager their team's and its reps' (alice's), reps none
    "settings/quotas/": ("GET", MANAGERS),
    "settings/quotas/set/": ("POST", MANAGERS),
    "settings/quotas/<int:pk>/remove/": ("POST", (LOGIN, DENIED, DENIED, OK, OK)),
    # exchange rates: an installation setting, admins only (decision 035)
    "settings/exchange-rates/": ("GET", ADMIN_ONLY),
    "settings/exchange-rates/set/": ("POST", ADMIN_ONLY),
    "settings/exchange-rates/<int:pk>/remove/": ("POST", ADMIN_ONLY),
    "settings/new-pipeline/": ("POST", ADMIN_ONLY),
    "settings/pipelines/<slug:key>/": ("GET", ADMIN_ONLY),
    "settings/pipelines/<slug:key>/<str:action>/": ("POST", ADMIN_ONLY),
    "settings/pipelines/<slug:key>/<str:action>/<int:target>/": ("POST", ADMIN_ONLY),
    "tokens/": ("GET", EVERYONE_SIGNED_IN),
    # a token is its owner's alone: even an admin cannot revoke alice's from this page
    "tokens/<int:token_id>/revoke/": ("POST", OWN_ONLY),
    "imports/": ("GET", (LOGIN, DENIED, DENIED, OK, OK)),
    "imports/upload/": ("POST", (LOGIN, DENIED, DENIED, OK, OK)),
    "imports/orders-and-quotes/": ("POST", (LOGIN, DENIED, DENIED, OK, OK)),
    "imports/export/<str:kind>.csv": ("GET", (LOGIN, DENIED, DENIED, OK, OK)),
    "imports/<str:token>/": ("GET", (LOGIN, DENIED, DENIED, HIDDEN, HIDDEN)),  # no such upload
    "insights/": ("GET", EVERYONE_SIGNED_IN),
    "insights/forecast/": ("GET", EVERYONE_SIGNED_IN),
    # the weekly review: an admin everyone's, a manager their team's, a rep their own deals
    "insights/review/": ("GET", EVERYONE_SIGNED_IN),
    "insights/forecast/adopt/<int:stage_id>/": ("POST", (LOGIN, DENIED, DENIED, DENIED, OK)),
    "insights/plotly.min.js": ("GET", PUBLIC),
    "healthz": ("GET", (HEALTH,) * 5),  # for load balancers: no sign-in
    # tasks follow their deal: alice's task on deal A
    "deals/<int:pk>/tasks/": ("POST", TEAM_A_ONLY),
    "tasks/<int:pk>/done/": ("POST", TEAM_A_ONLY),
    # notifications are their user's alone: alice's
    "inbox/": ("GET", EVERYONE_SIGNED_IN),
    "inbox/<int:pk>/open/": ("POST", OWN_ONLY),
    "inbox/read-all/": ("POST", EVERYONE_SIGNED_IN),
    "inbox/email/": ("GET", EVERYONE_SIGNED_IN),
    # signals follow their account's owner: a signal on alice's account
    "signals/": ("GET", EVERYONE_SIGNED_IN),
    "signals/<int:pk>/<str:action>/": ("POST", TEAM_A_ONLY),
    # API
    "api/docs/assets/<str:name>": ("GET", PUBLIC),
    "api/openapi.json": ("GET", PUBLIC),
    "api/docs": ("GET", PUBLIC),
    "api/": ("GET", (HIDDEN,) * 5),  # no root document: the API guide is /api/docs
    "api/^[\\s\\S]*$": ("GET", (HIDDEN,) * 5),
    "api/pipelines": ("GET", API_SIGNED_IN),
    "api/pipelines/<key>": ("GET", API_SIGNED_IN),
    "api/pipelines/<key>/stages": ("POST", API_ADMIN_ONLY),
    "api/pipelines/<key>/stages/<stage_key>": ("PATCH", API_ADMIN_ONLY),
    "api/pipelines/<key>/stages/<stage_key>/move": ("POST", API_ADMIN_ONLY),
    "api/pipelines/<key>/stages/<stage_key>/retire": ("POST", API_ADMIN_ONLY),
    "api/pipelines/<key>/stages/<stage_key>/restore": ("POST", API_ADMIN_ONLY),
    "api/pipelines/<key>/stage-order": ("PUT", API_ADMIN_ONLY),
    "api/pipelines/<key>/stages/<stage_key>/criteria": ("POST", API_ADMIN_ONLY),
    "api/pipelines/<key>/stages/<stage_key>/criteria/<criterion_key>": ("PATCH", API_ADMIN_ONLY),
    "api/lost-reasons": ("GET", API_SIGNED_IN),
    "api/deals": ("GET", API_SIGNED_IN),
    "api/deals/<int:deal_id>": ("GET", API_TEAM_A),
    "api/deals/<int:deal_id>/move": ("POST", API_TEAM_A),
    "api/deals/<int:deal_id>/next-step": ("GET", API_TEAM_A),
    "api/deals/<int:deal_id>/contacts": ("GET", API_TEAM_A),
    "api/deals/<int:deal_id>/contacts/<int:contact_id>/<role>": ("DELETE", API_TEAM_A),
    "api/deals/<int:deal_id>/checklist": ("GET", API_TEAM_A),
    "api/deals/<int:deal_id>/checklist/<item>": ("PUT", API_TEAM_A),
    "api/deals/<int:deal_id>/approvals": ("GET", API_TEAM_A),
    "api/deals/<int:deal_id>/history": ("GET", API_TEAM_A),
    "api/deals/<int:deal_id>/flags": ("GET", API_TEAM_A),
    "api/accounts": ("GET", API_SIGNED_IN),
    "api/accounts/<int:account_id>": ("GET", API_DIRECTORY),
    "api/contacts": ("GET", API_SIGNED_IN),
    "api/contacts/<int:contact_id>": ("GET", API_DIRECTORY),
    "api/activities": ("GET", API_SIGNED_IN),
    "api/tokens": ("GET", API_SIGNED_IN),
    "api/tokens/<int:token_id>": ("DELETE", (UNAUTH, OK, HIDDEN, HIDDEN, HIDDEN)),
    "api/audit": ("GET", API_ADMIN_ONLY),
    "api/tasks": ("GET", API_SIGNED_IN),
    "api/tasks/<int:task_id>": ("PATCH", API_TEAM_A),
    "api/rules": ("GET", API_ADMIN_ONLY),
    "api/rules/<int:rule_id>": ("PATCH", API_ADMIN_ONLY),
    # alice's quota: she reads it but may not remove it; carol may not learn it exists
    "api/quotas": ("GET", API_SIGNED_IN),
    "api/quotas/<int:quota_id>": ("DELETE", (UNAUTH, DENIED, HIDDEN, OK, OK)),
    # everyone reads the rates (they explain the totals); only admins remove them
    "api/exchange-rates": ("GET", API_SIGNED_IN),
    "api/exchange-rates/<int:rate_id>": ("DELETE", API_ADMIN_ONLY),
    "api/signals": ("GET", API_SIGNED_IN),
    "api/signals/<int:signal_id>/convert": ("POST", API_TEAM_A),
    "api/signals/<int:signal_id>/snooze": ("POST", API_TEAM_A),
    "api/signals/<int:signal_id>/dismiss": ("POST", API_TEAM_A),
    "api/signals/risk": ("GET", API_SIGNED_IN),
    "api/imports/orders": ("POST", API_MANAGERS),
    "api/imports/quotes": ("POST", API_MANAGERS),
    "api/metrics": ("GET", API_SIGNED_IN),
    "api/forecast": ("GET", API_SIGNED_IN),
    "api/bottlenecks": ("GET", API_SIGNED_IN),
    "api/signal-conversion": ("GET", API_SIGNED_IN),
}


def _rule(route: urlwalk.Route) -> tuple[str, tuple] | None:
    if route.route in ("admin/login/", "admin/logout/"):
        return ("GET", (OK, OK, OK, OK, OK))
    if route.is_admin:
        return ("GET", DJANGO_ADMIN)
    return RULES.get(route.route)


def _probe(route: urlwalk.Route, url: str, w) -> tuple[str, dict, dict | None] | None:
    """The URL with the input a real form or client sends, so the answer is about access, not input.

    None for combinations no page produces (an unknown action, an action without its target).
    """
    if "no-such-" in url:
        return None
    stage = w.stages["propose"]
    parts = url.rstrip("/").split("/")
    action = parts[-1 if route.route.endswith("<str:action>/") else -2] if "<str:action>" in route.route else ""
    if route.route == "settings/users/<str:action>/" and action not in ("user-add", "team-add"):
        return None
    if route.route == "settings/users/<str:action>/<int:target>/":
        target = int(parts[-1])
        if action in ("user-add", "team-add") or target != (w.world.east.pk if action == "team" else w.world.alice.pk):
            return None
    if route.route == "settings/pipelines/<slug:key>/<str:action>/" and action not in ("pipeline", "stage-add"):
        return None
    if route.route == "settings/pipelines/<slug:key>/<str:action>/<int:target>/":
        takes = {"stage": "stage", "stage-move": "stage", "stage-remove": "stage", "stage-retire": "stage",
                 "stage-restore": "stage", "criterion-add": "stage",
                 "criterion": "criterion", "criterion-delete": "criterion"}
        target = int(url.rstrip("/").split("/")[-1])
        if takes.get(action) != ("stage" if target == w.stages["qualify"].pk else "criterion"):
            return None
    form = {"deals/<int:pk>/move/": {"to": stage.pk}, "deals/<int:pk>/panel/<str:mode>/": {"to": stage.pk},
            "deals/<int:pk>/tasks/": {"title": "Call back", "due": "2099-01-01"}, "tasks/<int:pk>/done/": {"done": "1"},
            "settings/rules/<int:pk>/enabled/": {"enabled": "0"},
            "signals/<int:pk>/<str:action>/": {"until": "2099-01-01", "reason": "Bought elsewhere"},
            "deals/new/": {"title": "Probe", "account": "Probe Co", "stage": w.stages["qualify"].pk},
            "accounts/new/": {"name": "Probe Co"}, "contacts/new/": {"name": "Probe", "account": "Probe Co"},
            "settings/quotas/set/": {"target": f"owner:{w.world.alice.pk}", "period": "2026-Q4", "amount": "1000"},
            "settings/exchange-rates/set/": {"currency": "USD", "rate": "0.92", "date": "2026-11-01"},
            "settings/new-pipeline/": {"template": "distributor-5", "key": "probe"}}
    if route.route == "settings/pipelines/<slug:key>/<str:action>/" and action == "stage-add":
        return url, {"name": "Probe", "probability": "30"}, None
    api = {
        "api/pipelines/<key>/stages": {"name": "Probe", "probability": 30},
        "api/pipelines/<key>/stages/<stage_key>": {"name": "Qualify"},
        "api/pipelines/<key>/stages/<stage_key>/move": {"direction": "down"},
        "api/pipelines/<key>/stages/<stage_key>/retire": {"move_deals_to": "propose", "override_reason": "Probe"},
        "api/pipelines/<key>/stage-order": {"stages": ["qualify", "propose", "negotiate"]},
        "api/pipelines/<key>/stages/<stage_key>/criteria": {"phase": "exit", "key": "probe", "label": "Probe",
                                                            "kind": "checklist", "config": {"item": "probe"}},
        "api/pipelines/<key>/stages/<stage_key>/criteria/<criterion_key>": {"label": "Amount"},
        "api/deals/<int:deal_id>/move": {"stage": "propose"},
        "api/deals/<int:deal_id>/checklist/<item>": {"checked": True, "evidence": "CFO said so"},
        "api/tasks/<int:task_id>": {"done": True},
        "api/rules/<int:rule_id>": {"name": "Follow up"},
        "api/signals/<int:signal_id>/snooze": {"until": "2099-01-01"},
        "api/signals/<int:signal_id>/dismiss": {"reason": "Bought elsewhere"},
    }
    return url, form.get(route.route, {}), api.get(route.route)


def _answer_class(answer: urlwalk.Answer):
    if answer.status in (401, 403, 404):
        return answer.status
    if answer.status in (301, 302) and "login" in answer.location:
        return LOGIN
    if answer.status < 400 or answer.status in (400, 405, 409, 413, 422):
        return OK
    return answer.status


def test_it_has_an_access_rule_for_every_url_pattern():
    missing = [r.route for r in urlwalk.all_routes() if _rule(r) is None]
    assert not missing, "New endpoints without an access rule in RULES (tests/security/test_access_matrix.py): " \
                        + ", ".join(missing)


def test_it_answers_every_url_pattern_as_the_table_says_for_every_role(world, pipeline, make_deal):
    w = urlwalk.build_world(world, pipeline, make_deal)
    clients = urlwalk.clients(w)
    wrong = []
    for route in urlwalk.all_routes():
        method, expected = _rule(route)
        for url in urlwalk.concrete_urls(route, w):
            probe = _probe(route, url, w)
            if probe is None:
                continue
            url, data, body = probe
            for role, want in zip(ROLES, expected):
                answer = urlwalk.call(clients[role], method, url, data, json_body=body)
                got = _answer_class(answer)
                if want == STAFF and got != LOGIN:
                    continue
                if want == HEALTH and answer.status in (200, 503):
                    continue
                if got != want:
                    wrong.append(f"{method} {url} ({route.route}) as {role}: expected {want}, got {got}")
    assert not wrong, f"{len(wrong)} answers differ from the access table:\n" + "\n".join(wrong)


# Pages that list, total or export deals: team B's deal must not show to team A's manager.
DEAL_PAGES = [
    "/deals/", "/deals/?status=all", "/deals/?q=Zeta", "/deals/?format=csv", "/deals/?format=csv&status=all",
    "/board/{key}/", "/board/{key}/column/{stage}/", "/my-day/", "/accounts/", "/contacts/", "/insights/",
    "/insights/?pipeline={pipeline}", "/insights/forecast/?pipeline={pipeline}", "/imports/export/deals.csv",
    "/imports/export/accounts.csv", "/imports/export/history.csv", "/api/deals", "/api/deals?status=won",
    "/api/accounts", "/api/metrics?pipeline={key}", "/api/forecast?pipeline={key}", "/api/bottlenecks?pipeline={key}",
    "/api/deals/{deal_b}", "/deals/{deal_b}/", "/api/deals/{deal_b}/history",
]
TEAM_B_MARKS = ("Zeta West secret deal", "7777777", "7,777,777", "7 777 777", "7778777", "7,778,777", "7 778 777")


def _shown(mark: str, content: bytes) -> bool:
    """The mark as a whole number: 7777777 inside a float such as 14.377777777 (a median of days) is not it."""
    return re.search(rb"(?<![\d.])" + re.escape(mark.encode()) + rb"(?!\d)", content) is not None


@pytest.mark.parametrize("page", DEAL_PAGES)
def test_it_hides_a_deal_of_team_b_from_the_manager_of_team_a(world, pipeline, make_deal, page):
    w = urlwalk.build_world(world, pipeline, make_deal)
    url = page.format(key=pipeline.key, pipeline=pipeline.pk, stage=w.stages["qualify"].pk, deal_b=w.deal_b.pk)
    clients = urlwalk.clients(w)
    seen = urlwalk.call(clients["manager_a"], "GET", url)
    assert seen.status in (200, 404), seen.error
    found = [mark for mark in TEAM_B_MARKS if _shown(mark, seen.content)]
    assert not found, f"{url} shows team B's deal to team A's manager: {found}"
