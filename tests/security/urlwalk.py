"""Every URL pattern of `dealgate.urls`, filled with real ids, and the means to call it as each role.

Shared by the hostile-input walk and the access matrix. The list of routes comes from Django's
URL resolver, not from a list kept by hand, so a new view is walked (and must get an access
rule) the day it is added. A path parameter this module cannot fill fails loudly: teach
`path_values` its name instead of skipping the route.
"""

from __future__ import annotations

import copy
import itertools
import json
import re
from dataclasses import dataclass, field
from html.parser import HTMLParser
from types import SimpleNamespace
from typing import Any, Iterator
from urllib.parse import quote, urlsplit

from django.db import transaction
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver

ROLES = ("anonymous", "rep_a", "rep_b", "manager_a", "admin")

# Unnamed catch-all patterns cannot be reversed: one sample path each.
CATCH_ALL_SAMPLES = {
    "api/^[\\s\\S]*$": "/api/no-such-endpoint",
    "admin/(?P<url>.*)$": "/admin/no-such-page/",
}


@dataclass(frozen=True)
class Route:
    """One URL pattern: `route` is its full pattern text, the key of every table in these tests."""

    route: str
    name: str
    params: tuple[str, ...]
    pattern: Any = field(compare=False, repr=False)
    callback: Any = field(compare=False, repr=False)

    @property
    def is_admin(self) -> bool:
        return self.route.startswith("admin/")

    @property
    def is_api(self) -> bool:
        return self.route.startswith("api/")


def all_routes() -> list[Route]:
    """Every URL pattern once (ninja registers one pattern per operation on the same path)."""
    seen: dict[str, Route] = {}

    def walk(patterns: list, prefix: str, namespace: str) -> None:
        for entry in patterns:
            if isinstance(entry, URLResolver):
                inner = f"{namespace}:{entry.namespace}" if namespace and entry.namespace else (entry.namespace or namespace)
                walk(entry.url_patterns, prefix + str(entry.pattern), inner)
            elif isinstance(entry, URLPattern):
                route = prefix + str(entry.pattern)
                params = tuple(re.findall(r"<(?:\w+:)?(\w+)>", route)) + tuple(re.findall(r"\(\?P<(\w+)>", route))
                name = f"{namespace}:{entry.name}" if namespace and entry.name else (entry.name or "")
                seen.setdefault(route, Route(route, name, params, entry.pattern, entry.callback))

    walk(get_resolver("dealgate.urls").url_patterns, "", "")
    return list(seen.values())


# ---------------------------------------------------------------------------------------------
# A small world whose objects belong to team A (East), plus one deal of team B (West)


def build_world(world: Any, pipeline: Any, make_deal: Any) -> SimpleNamespace:
    """alice (rep A) owns deal_a on team East; carol (rep B) owns deal_b on team West.

    Also of team A: a task on deal_a (alice's), a notification to alice, a signal on alice's
    account; and automation rules (the installation's, admins only), one with a webhook delivery.
    """
    import datetime as dt

    from django.utils import timezone

    from dealgate.analytics.rates import set_rate
    from dealgate.analytics.services import set_quota
    from dealgate.api.services import create_token
    from dealgate.automation import services as automation
    from dealgate.automation.engine import run_rule
    from dealgate.deals import services
    from dealgate.signals.models import Signal

    deal_a = make_deal(owner=world.alice, title="Alpha East deal", amount=1000)
    contact_a = services.create_contact(by=world.alice, name="Ann Buyer", account=deal_a.account, email="ann@example.com")
    services.link_contact(deal_a, contact_a, "decision_maker", by=world.alice)
    services.log_activity(by=world.alice, kind="call", subject="First call", deal=deal_a)
    deal_b = make_deal(owner=world.carol, title="Zeta West secret deal", amount=7_777_777)
    token_a, _ = create_token(user=world.alice, name="alice laptop")
    today = timezone.localdate()
    task_a = automation.create_task(by=world.alice, title="Send the proposal", due=today + dt.timedelta(days=3),
                                    deal=deal_a)
    notification_a = automation.notify(world.alice, kind="alert", title="Alpha East deal is idle", deal=deal_a)
    rule = automation.create_rule(by=world.dave, name="Follow up", trigger="stage_entered", trigger_stage="propose",
                                  pipeline=pipeline, actions=[{"type": "create_task", "title": "Follow up"}])
    hook = automation.create_rule(by=world.dave, name="Tell the ERP", trigger="deal_created", pipeline=pipeline,
                                  actions=[{"type": "webhook", "url": "https://hooks.example.com/dealgate",
                                            "secret": "urlwalk-secret-0123456789"}])
    run_rule(hook, deal_a, trigger="deal_created", occurrence="urlwalk")
    delivery = hook.webhook_deliveries.get()
    signal_a = Signal.objects.create(kind="missed_reorder", account=deal_a.account, cause_key="urlwalk:missed-reorder",
                                     title="Reorder late", evidence={"days_late": 20, "typical_gap_days": 30},
                                     revenue=1200, as_of=today, raised_at=timezone.now())
    quota_a = set_quota(owner=world.alice, period="2026-Q4", amount=100000, by=world.dave)
    rate = set_rate(currency="USD", rate="0.9", effective_from="2026-01-01", by=world.dave)
    stages = {s.key: s for s in pipeline.stages.all()}
    return SimpleNamespace(
        users={"rep_a": world.alice, "rep_b": world.carol, "manager_a": world.bob, "admin": world.dave},
        world=world, pipeline=pipeline, stages=stages, deal_a=deal_a, deal_b=deal_b, account_a=deal_a.account,
        contact_a=contact_a, token_a=token_a, criterion=stages["qualify"].criteria.order_by("position").first(),
        task_a=task_a, notification_a=notification_a, rule=rule, signal_a=signal_a, delivery=delivery,
        quota_a=quota_a, rate=rate,
    )


def _dispatch_keys(route: Route) -> list[str]:
    """The `action`/`mode` values a view dispatches on, read from the view's own table."""
    from dealgate.signals import views as signal_views
    from dealgate.web.views import actions, admin_settings, user_settings

    tables = {
        "web:deal_action": actions.ACTIONS, "web:settings_action": admin_settings.SETTINGS_ACTIONS,
        "web:settings_users_action": user_settings.USER_ACTIONS, "signals:act": signal_views.ACTIONS,
    }
    if route.name in tables:
        return list(tables[route.name]) + ["no-such-action"]
    if route.name == "web:panel":
        return ["gate", "won", "lost", "menu"]
    raise LookupError(f"urlwalk does not know the values of 'action'/'mode' in {route.route}")


def _admin_object_id(route: Route, w: SimpleNamespace) -> list[Any]:
    model_admin = getattr(route.callback, "model_admin", None)
    if model_admin is None:  # "view on site": the content type comes with it
        return [w.deal_a.pk]
    model = model_admin.model
    own = {"deal": w.deal_a.pk, "account": w.account_a.pk, "contact": w.contact_a.pk, "user": w.world.alice.pk,
           "pipeline": w.pipeline.pk, "stage": w.stages["qualify"].pk, "criterion": w.criterion.pk}
    first = model._default_manager.order_by("pk").values_list("pk", flat=True).first()
    return [own.get(model._meta.model_name, first if first is not None else 999999)]


def path_values(route: Route, param: str, w: SimpleNamespace) -> list[Any]:
    """Real values for one path parameter: team A's objects, and every action a dispatcher knows."""
    if param in ("action", "mode"):
        return _dispatch_keys(route)
    if param == "object_id" or (param == "id" and route.is_admin):
        return _admin_object_id(route, w)
    if param == "pk":  # whose pk: the first segment of the route says (deals/<pk>/tasks/ is a deal's)
        owners = {"accounts/": w.account_a, "tasks/": w.task_a, "inbox/": w.notification_a,
                  "settings/rules/": w.rule, "settings/webhooks/": w.delivery, "signals/": w.signal_a,
                  "settings/quotas/": w.quota_a, "settings/exchange-rates/": w.rate}
        return [next((obj.pk for prefix, obj in owners.items() if route.route.startswith(prefix)), w.deal_a.pk)]
    if param == "target":
        if "users" in route.route:
            return [w.world.alice.pk, w.world.east.pk]  # a user, or a team for the team actions
        return [w.stages["qualify"].pk, w.criterion.pk]
    if param == "name":  # the API docs' static assets
        from dealgate.api.docs import ASSETS

        return sorted(ASSETS)[:1] + ["no-such-asset.js"]
    if param == "kind":
        from dealgate.imports.exports import EXPORTS

        return sorted(EXPORTS)
    if param == "content_type_id":
        from django.contrib.contenttypes.models import ContentType

        return [ContentType.objects.get_for_model(type(w.deal_a)).pk]
    fixed = {
        "deal_id": w.deal_a.pk, "account_id": w.account_a.pk, "contact_id": w.contact_a.pk, "token_id": w.token_a.pk,
        "task_id": w.task_a.pk, "signal_id": w.signal_a.pk, "rule_id": w.rule.pk, "quota_id": w.quota_a.pk, "rate_id": w.rate.pk,
        "stage_id": w.stages["qualify"].pk, "key": w.pipeline.key, "stage_key": "qualify",
        "criterion_key": w.criterion.key, "item": "budget", "role": "decision_maker", "token": "no-such-upload",
        "app_label": "deals",
    }
    if param in fixed:
        return [fixed[param]]
    raise LookupError(f"urlwalk cannot fill <{param}> in {route.route}: add it to path_values")


def concrete_urls(route: Route, w: SimpleNamespace) -> list[str]:
    """The route with its parameters filled, once per combination of real values."""
    if route.route in CATCH_ALL_SAMPLES:
        return [CATCH_ALL_SAMPLES[route.route]]
    if not route.params:
        return ["/" + route.route.lstrip("^").rstrip("$")]
    urls = []
    choices = [path_values(route, p, w) for p in route.params]
    for combo in itertools.product(*choices):
        values = dict(zip(route.params, combo))
        if "(?P<" in route.route:
            url = re.sub(r"\^?\(\?P<(\w+)>[^)]*\)\$?", lambda m: str(values[m.group(1)]), route.route)
            url = url.replace("^", "").replace("$", "")
        else:
            url = re.sub(r"<(?:\w+:)?(\w+)>", lambda m: str(values[m.group(1)]), route.route)
        urls.append("/" + url)
    return urls


# ---------------------------------------------------------------------------------------------
# Calling


def clients(w: SimpleNamespace) -> dict[str, Client]:
    """One logged-in client per role (anonymous: none)."""
    out = {"anonymous": Client()}
    for role, user in w.users.items():
        client = Client()
        client.force_login(user)
        out[role] = client
    return out


def encode(params: dict[str, Any] | list[tuple[str, Any]]) -> str:
    """Form/query encoding that also carries lone surrogates (as their raw UTF-8-ish bytes)."""
    items = params.items() if isinstance(params, dict) else params
    return "&".join(f"{quote(str(k), safe='', errors='surrogatepass')}={quote(str(v), safe='', errors='surrogatepass')}"
                    for k, v in items)


@dataclass
class Answer:
    status: int
    content: bytes
    location: str
    error: str  # the exception a view raised, if any (the server answers 500 then)


def call(client: Client, method: str, url: str, params: Any = None, *, json_body: Any = None) -> Answer:
    """One request inside a savepoint that is rolled back: the world stays as built for the next one.

    The client's cookies are put back too, so walking /logout/ does not sign the role out.
    """
    query = encode(params or {})
    cookies = client.cookies
    client.cookies = copy.copy(cookies)
    try:
        with transaction.atomic():
            if method == "GET":
                response = client.get(f"{url}?{query}" if query else url)
            elif json_body is not None:
                response = client.generic(method, url, json.dumps(json_body), content_type="application/json")
            else:
                response = client.generic(method, url, query, content_type="application/x-www-form-urlencoded")
            transaction.set_rollback(True)
    except Exception as exc:  # noqa: BLE001 - the walk reports what broke, with its route
        return Answer(500, b"", "", f"{type(exc).__name__}: {str(exc)[:200]}")
    finally:
        client.cookies = cookies
    content = b"".join(response.streaming_content) if response.streaming else response.content
    return Answer(response.status_code, content, response.get("Location", ""), "")


# ---------------------------------------------------------------------------------------------
# Forms on the rendered pages


@dataclass
class Form:
    action: str
    method: str
    fields: list[tuple[str, str, str]]  # (name, input type, value)


class FormParser(HTMLParser):
    """The forms of a page with their fields (first option of a select, hidden values kept)."""

    def __init__(self, page_url: str):
        super().__init__()
        self.page_url = page_url
        self.forms: list[Form] = []
        self._select: str | None = None
        self._current: Form | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form":
            action = a.get("action") or a.get("hx-post") or self.page_url
            method = "POST" if (a.get("method", "").lower() == "post" or "hx-post" in a) else "GET"
            self._current = Form(urlsplit(action).path or self.page_url, method, [])
            self.forms.append(self._current)
        elif self._current is None or not a.get("name"):
            return
        elif tag in ("input", "button"):
            kind = a.get("type", "text" if tag == "input" else "submit")
            self._current.fields.append((a["name"], kind, a.get("value", "")))
        elif tag == "textarea":
            self._current.fields.append((a["name"], "textarea", ""))
        elif tag == "select":
            self._select = a["name"]
            self._current.fields.append((a["name"], "select", ""))
        if tag == "option" and self._select and self._current:
            name, kind, value = self._current.fields[-1]
            if name == self._select and not value:
                self._current.fields[-1] = (name, kind, a.get("value", ""))

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._current = None
        elif tag == "select":
            self._select = None


def forms_on(page_url: str, html: bytes) -> list[Form]:
    parser = FormParser(page_url)
    parser.feed(html.decode("utf-8", "replace"))
    return [f for f in parser.forms if f.fields]


def routes_of_kind(*, admin: bool | None = None, api: bool | None = None) -> Iterator[Route]:
    for route in all_routes():
        if admin is not None and route.is_admin != admin:
            continue
        if api is not None and route.is_api != api:
            continue
        yield route
