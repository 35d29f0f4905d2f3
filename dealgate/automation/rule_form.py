"""The rule form in settings: what an admin typed, turned into the rule service's arguments and back.

No raw JSON on screen. The form is a flat set of named inputs (`action-2-stage`, `field-0-key`); a
draft keeps exactly what was typed, so a refused save shows it again with each message next to its
input. Checking stays in one place: this module only reads the inputs (numbers, a pipeline key,
which rows are filled); `check_rule` (through `create_rule` / `update_rule`) decides what is valid
and its details (`conditions.stages`, `actions.1.stage`) are mapped back onto the inputs here.
"""

from __future__ import annotations

from typing import Any, Mapping

from django.contrib.auth import get_user_model

from dealgate.automation.models import NotificationKind, Rule, Trigger
from dealgate.automation.rules import SETTABLE_FIELDS, named_stages
from dealgate.automation.webhooks import mask_secret
from dealgate.deals.models import Deal, Source
from dealgate.errors import ValidationFailed
from dealgate.inputs import storable_text
from dealgate.people.models import Team
from dealgate.pipelines.models import CustomField, Pipeline
from dealgate.signals.models import SignalKind

MIN_ACTION_ROWS = 2  # a new rule offers two; "Add another action" posts back for one more
MAX_ACTION_ROWS = 20
MAX_FIELD_ROWS = 20
ACTION_TYPES = [("create_task", "Create a task"), ("notify", "Send a notification"),
                ("set_field", "Set a deal field"), ("move_to_stage", "Move the deal to a stage"),
                ("webhook", "Send a webhook (a signed POST to another system)"),
                ("convert_to_deal", "Convert the signal to a deal (signal rules)")]
# The inputs of one action row, per action type (names after the `action-N-` prefix).
ACTION_INPUTS = {
    "create_task": ("task_title", "due_in_days", "business_days", "assignee"),
    "notify": ("to", "kind", "notify_title", "body"),
    "set_field": ("field", "value"),
    "move_to_stage": ("stage",),
    "webhook": ("url", "secret"),
    "convert_to_deal": (),
}
ROW_INPUTS = ("type", *(name for names in ACTION_INPUTS.values() for name in names))
RECIPIENTS = [("owner", "The owner"), ("manager", "The owner's manager"), ("account_owner", "The account's owner")]
# The condition inputs each kind of rule reads (a signal rule has no deal to compare).
DEAL_INPUTS = ("stages", "sources", "amount_min", "amount_max", "fields", "pipeline")
SIGNAL_INPUTS = ("signal_kinds", "revenue_min")
KIND_WORDS = {"assigned": "Assignment", "task": "Task", "alert": "Alert"}
# Which service detail key lands on which input of a row ("title" belongs to the row's type).
_ROW_KEYS = {"title": {"create_task": "task_title", "notify": "notify_title"}}


def _text(value: Any, field: str, *, max_length: int = 2000) -> str:
    text = storable_text(value, field).strip()
    if len(text) > max_length:
        raise ValidationFailed.for_field(field, f"is longer than {max_length} characters")
    return text


def blank_draft() -> dict[str, Any]:
    return {"name": "", "trigger": Trigger.STAGE_ENTERED.value, "trigger_stage": "", "idle_days": "",
            "pipeline": "", "stages": [], "amount_min": "", "amount_max": "", "owners": [], "teams": [],
            "sources": [], "fields": [{"key": "", "value": ""}], "signal_kinds": [], "revenue_min": "",
            "actions": [_blank_row() for _ in range(MIN_ACTION_ROWS)]}


def _blank_row() -> dict[str, Any]:
    return {"type": "", "task_title": "", "due_in_days": "0", "business_days": False, "assignee": "owner",
            "to": "owner", "kind": "alert", "notify_title": "", "body": "", "field": "", "value": "", "stage": "",
            "url": "", "secret": "", "saved_secret": ""}


def _count(post: Mapping[str, Any], prefix: str, limit: int) -> int:
    """How many rows the form posted (the highest row number seen, plus one), at most `limit`."""
    numbers = [name.split("-")[1] for name in post if name.startswith(prefix + "-") and name.count("-") >= 2]
    rows = [int(n) for n in numbers if n.isascii() and n.isdigit() and len(n) < 4]
    return min(max(rows, default=-1) + 1, limit)


def draft_from_post(post: Any) -> dict[str, Any]:
    """Everything the admin typed, as typed (strings; lists for the multi-selects)."""
    draft = {name: str(post.get(name, "")) for name in ("name", "trigger", "trigger_stage", "idle_days",
                                                         "pipeline", "amount_min", "amount_max", "revenue_min")}
    for name in ("stages", "owners", "teams", "sources", "signal_kinds"):
        draft[name] = [str(v) for v in post.getlist(name)]
    draft["fields"] = [{"key": str(post.get(f"field-{i}-key", "")), "value": str(post.get(f"field-{i}-value", ""))}
                       for i in range(max(_count(post, "field", MAX_FIELD_ROWS), 1))]
    rows = []
    for i in range(max(_count(post, "action", MAX_ACTION_ROWS), 1)):
        row = {name: str(post.get(f"action-{i}-{name}", "")) for name in ROW_INPUTS}
        row["business_days"] = bool(post.get(f"action-{i}-business_days"))
        row["saved_secret"] = ""
        rows.append(row)
    draft["actions"] = rows
    return draft


def add_action_row(draft: dict[str, Any]) -> bool:
    """One more empty action row ("Add another action"); False when the form already has the most."""
    if len(draft["actions"]) >= MAX_ACTION_ROWS:
        return False
    draft["actions"].append(_blank_row())
    return True


def draft_from_rule(rule: Rule) -> dict[str, Any]:
    """A stored rule as the form shows it, with one empty action row to add another."""
    c = rule.conditions or {}
    rows = []
    for step in rule.actions:
        row = _blank_row()
        row["type"] = step["type"]
        if step["type"] == "create_task":
            row.update(task_title=step["title"], due_in_days=str(step.get("due_in_days", 0)),
                       business_days=bool(step.get("business_days")), assignee=step.get("assignee", "owner"))
        elif step["type"] == "notify":
            row.update(to=step.get("to", "owner"), kind=step.get("kind", "alert"), notify_title=step["title"],
                       body=step.get("body", ""))
        elif step["type"] == "set_field":
            value = step.get("value")
            row.update(field=step["field"], value="" if value is None else _as_typed(value))
        elif step["type"] == "webhook":  # the secret is never shown back: left empty, the saved one stays
            row.update(url=step.get("url", ""), saved_secret=mask_secret(step.get("secret")))
        elif step["type"] == "move_to_stage":
            row["stage"] = step["stage"]
        rows.append(row)
    fields = [{"key": key, "value": _as_typed(value)} for key, value in (c.get("fields") or {}).items()]
    return {
        "name": rule.name, "trigger": rule.trigger, "trigger_stage": rule.trigger_stage,
        "idle_days": "" if rule.idle_days is None else str(rule.idle_days),
        "pipeline": rule.pipeline.key if rule.pipeline_id else "",
        "stages": list(c.get("stages", [])), "owners": list(c.get("owners", [])), "teams": list(c.get("teams", [])),
        "sources": list(c.get("sources", [])),
        "amount_min": str(c.get("amount_min", "") or ""), "amount_max": str(c.get("amount_max", "") or ""),
        "fields": fields + [{"key": "", "value": ""}],
        "signal_kinds": list(c.get("signal_kinds", [])),
        "revenue_min": "" if c.get("revenue_min") is None else str(c["revenue_min"]),
        "actions": rows + [_blank_row()],
    }


def _as_typed(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def rule_arguments(draft: dict[str, Any]) -> tuple[dict[str, Any], list[int]]:
    """The service's keyword arguments from a draft, and which form row each stored action came from.

    Refuses (with every problem at once, keyed by input name) what cannot even be read: a pipeline
    that does not exist, a word where a number belongs, an action row without its title.
    """
    problems: dict[str, list[str]] = {}

    def read(name: str, parse: Any) -> Any:
        try:
            return parse()
        except ValidationFailed as exc:  # keyed by the input the parser named, else by `name`
            details = exc.details if isinstance(exc.details, dict) and exc.details else {name: [exc.message]}
            for where, messages in details.items():
                problems.setdefault(where, []).extend(messages)
            return None

    trigger = draft["trigger"]
    on_signal = trigger == Trigger.SIGNAL_RAISED
    draft = {**draft, **{name: blank_draft()[name] for name in (DEAL_INPUTS if on_signal else SIGNAL_INPUTS)}}
    pipeline = None
    if read("pipeline", lambda: _text(draft["pipeline"], "pipeline", max_length=50)):
        pipeline = Pipeline.objects.filter(key=draft["pipeline"]).first()
        if pipeline is None:
            problems["pipeline"] = [f"there is no pipeline {draft['pipeline']!r}"]
    idle_days = read("idle_days", lambda: _whole_number(draft["idle_days"], "idle_days", low=1, high=3650)) \
        if trigger == Trigger.DEAL_IDLE else None
    conditions: dict[str, Any] = {name: draft[name] for name in ("stages", "owners", "teams", "sources", "signal_kinds")
                                  if draft[name]}
    for name in ("amount_min", "amount_max", "revenue_min"):
        amount = read(name, lambda name=name: _amount(draft[name], name))
        if amount is not None:
            conditions[name] = str(amount)
    fields = {}
    for i, row in enumerate(draft["fields"]):
        if row["key"]:
            fields[row["key"]] = read(f"field-{i}-value", lambda row=row, i=i: _field_value(row["key"], row["value"],
                                                                                             f"field-{i}-value"))
    if fields:
        conditions["fields"] = fields
    actions, rows = [], []
    for i, row in enumerate(draft["actions"]):
        if row["type"]:
            actions.append(read(f"action-{i}-type", lambda row=row, i=i: _action(row, i)))
            rows.append(i)
    if not actions:
        problems.setdefault("action-0-type", []).append("choose what the rule does (at least one action)")
    name = read("name", lambda: _text(draft["name"], "name", max_length=200))
    if problems:
        raise ValidationFailed("Please correct the marked fields.", details=problems)
    return {"name": name, "trigger": trigger, "trigger_stage": draft["trigger_stage"] if trigger == Trigger.STAGE_ENTERED else "",
            "idle_days": idle_days, "pipeline": pipeline, "conditions": conditions, "actions": actions}, rows


def _messages(exc: ValidationFailed) -> list[str]:
    details = exc.details if isinstance(exc.details, dict) else {}
    return [m for msgs in details.values() for m in msgs] or [exc.message]


def _whole_number(value: str, field: str, *, low: int, high: int, blank: int | None = None) -> int | None:
    text = value.strip()
    if not text:
        return blank
    if not (text.isascii() and text.isdigit()) or len(text) > 6 or not low <= int(text) <= high:
        raise ValidationFailed.for_field(field, f"must be a whole number from {low} to {high}")
    return int(text)


def _amount(value: str, field: str) -> Any:
    from dealgate.deals.services import parse_amount

    return parse_amount(value, field)


def _field_value(key: str, value: str, field: str) -> Any:
    """The value typed for a custom field, in the field's JSON shape (a number, yes/no, a date)."""
    from dealgate.deals.services import typed_custom_fields

    try:
        return typed_custom_fields({key: _text(value, field)})[key]
    except ValidationFailed as exc:
        raise ValidationFailed.for_field(field, _messages(exc)[0].split(": ", 1)[-1]) from None


def _action(row: dict[str, Any], i: int) -> dict[str, Any]:
    kind = row["type"]
    if kind == "create_task":
        return {"type": kind, "title": _required(row["task_title"], f"action-{i}-task_title", "a task needs a title"),
                "due_in_days": _whole_number(row["due_in_days"], f"action-{i}-due_in_days", low=0, high=365, blank=0),
                "business_days": row["business_days"], "assignee": row["assignee"] or "owner"}
    if kind == "notify":
        return {"type": kind, "to": row["to"] or "owner", "kind": row["kind"] or "alert",
                "title": _required(row["notify_title"], f"action-{i}-notify_title", "a notification needs a title"),
                "body": _text(row["body"], f"action-{i}-body")}
    if kind == "set_field":
        field = _required(row["field"], f"action-{i}-field", "choose the field to set")
        return {"type": kind, "field": field, "value": _text(row["value"], f"action-{i}-value") or None}
    if kind == "move_to_stage":
        return {"type": kind, "stage": _required(row["stage"], f"action-{i}-stage", "choose the stage")}
    if kind == "webhook":
        return {"type": kind, "url": _required(row["url"], f"action-{i}-url", "give the address to send to"),
                "secret": _text(row["secret"], f"action-{i}-secret", max_length=200)}
    return {"type": kind}  # convert_to_deal has no inputs; an unknown type: the service refuses it, next to this row's type


def _required(value: str, field: str, message: str) -> str:
    text = _text(value, field, max_length=200)
    if not text:
        raise ValidationFailed.for_field(field, message)
    return text


def form_errors(exc: ValidationFailed, rows: list[int], draft: dict[str, Any]) -> dict[str, list[str]]:
    """The service's refusal as messages per input (`conditions.stages` -> `stages`, `actions.1.stage`
    -> `action-<its row>-stage`); anything without an input of its own goes under `form`."""
    errors: dict[str, list[str]] = {}
    details = exc.details if isinstance(exc.details, dict) else {}
    for where, messages in details.items():
        errors.setdefault(_input_for(str(where), rows, draft), []).extend(str(m) for m in messages)
    return errors or {"form": [exc.message]}


def _input_for(where: str, rows: list[int], draft: dict[str, Any]) -> str:
    if where in ("name", "trigger", "trigger_stage", "idle_days", "pipeline"):
        return where
    parts = where.split(".")
    if parts[0] == "conditions" and len(parts) > 1:
        return {"fields": "fields"}.get(parts[1], parts[1])
    if parts[0] == "actions" and len(parts) > 1 and parts[1].isdigit() and int(parts[1]) < len(rows):
        row = rows[int(parts[1])]
        rest = parts[2:]
        if rest and rest[0] == draft["actions"][row]["type"]:  # pydantic names the action type: actions.0.webhook.url
            rest = rest[1:]
        name = rest[0] if rest else "type"
        name = _ROW_KEYS.get(name, {}).get(draft["actions"][row]["type"], name)
        return f"action-{row}-{name if name in ROW_INPUTS else 'type'}"
    return "form"


def named_in(draft: dict[str, Any]) -> dict[str, set[str]]:
    """The stage keys the form names now, per picker: a retired one stays in its picker, marked."""
    return named_stages(draft["trigger_stage"], {"stages": draft["stages"]}, draft["actions"])


def choices(named: dict[str, set[str]] | None = None) -> dict[str, Any]:
    """Everything the form's selects offer, read from the database. The stage pickers (trigger, 'in
    stage', move actions) leave retired stages out (decision 036), except those the form already names
    in that picker (`named`), which the template marks "(retired)"."""
    named = named or {}
    pipelines = list(Pipeline.objects.order_by("name").prefetch_related("stages"))

    def groups(part: str) -> list[tuple[Pipeline, list]]:
        keep = named.get(part, set())
        return [(p, sorted((s for s in p.stages.all() if not s.is_retired or s.key in keep),
                           key=lambda s: s.position)) for p in pipelines]
    custom = list(CustomField.objects.order_by("label"))
    deal_fields = [(name, str(Deal._meta.get_field(name).verbose_name).capitalize()) for name in SETTABLE_FIELDS]
    return {
        "triggers": Trigger.choices, "pipelines": pipelines, "trigger_stage_groups": groups("trigger_stage"),
        "condition_stage_groups": groups("conditions.stages"), "action_stage_groups": groups("stage"),
        "users": get_user_model().objects.filter(is_active=True).order_by("username"),
        "teams": Team.objects.order_by("name"), "sources": Source.choices, "custom_fields": custom,
        "action_types": ACTION_TYPES, "recipients": RECIPIENTS, "signal_kinds": SignalKind.choices,
        "kinds": [(value, KIND_WORDS.get(value, label)) for value, label in NotificationKind.choices],
        "settable": deal_fields + [(f"custom.{f.key}", f"{f.label} (custom field)") for f in custom],
    }


def rows_for_display(draft: dict[str, Any], errors: dict[str, list[str]]) -> tuple[list[dict], list[dict]]:
    """The custom-field rows and action rows with their input names and their own messages."""
    fields = [{**row, "index": i, "key_name": f"field-{i}-key", "value_name": f"field-{i}-value",
               "errors": errors.get(f"field-{i}-key", []) + errors.get(f"field-{i}-value", [])}
              for i, row in enumerate(draft["fields"])]
    actions = [{**row, "index": i, "number": i + 1, "prefix": f"action-{i}-",
                "errors": {name: errors.get(f"action-{i}-{name}", []) for name in ROW_INPUTS}}
               for i, row in enumerate(draft["actions"])]
    return fields, actions
