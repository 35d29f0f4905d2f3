"""A form per criterion kind on the settings pages, instead of a raw JSON box.

`config_from_form` turns the inputs of one kind's form into the criterion config, which then goes
through the one validation every path uses (`pipeline_settings.add_criterion`/`update_criterion`,
as the API's). Errors come back keyed `config.<part>` (e.g. `config.value`), which is the name of
the input here, so each shows next to its input. `form_values` is the reverse: a saved config as
the form's inputs. `choices` fills the selects from the pipeline (fields, custom fields, activity
types, contact roles, the roles that may approve, and the checklist items and conditions in use).
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from dealgate.errors import ValidationFailed
from dealgate.pipelines.criteria import ACTIVITY_KINDS, CONTACT_ROLES, DEAL_FIELDS
from dealgate.pipelines.models import CustomField, Pipeline

# The inputs of each kind's form; a name is the config's key (errors come back as config.<name>).
KIND_INPUTS: dict[str, tuple[str, ...]] = {
    "field": ("field", "op", "value"),
    "checklist": ("item", "group", "require_evidence"),
    "activity": ("activity", "outcome", "scope", "min_count"),
    "contact_role": ("role", "min_count"),
    "approval": ("condition", "approver_roles"),
}

FIELD_LABELS = {
    "amount": "Amount", "currency": "Currency", "expected_close_date": "Expected close date",
    "probability_override": "Probability (set by hand)", "forecast_category": "Forecast category",
    "source": "Source", "next_step": "Next step", "next_step_due": "Next step due date", "account": "Account",
    "title": "Title",
}
OPERATORS = (("set", "is filled in"), ("true", "is ticked (yes/no field)"), ("eq", "equals"),
             ("in", "is one of (comma-separated)"), ("gt", "is greater than"), ("gte", "is at least"),
             ("lt", "is less than"), ("lte", "is at most"))
ACTIVITY_LABELS = {"call": "Call", "email": "Email", "meeting": "Meeting", "note": "Note", "task": "Task"}
SCOPES = (("stage", "in this stage"), ("ever", "at any time on the deal"))
APPROVER_ROLES = (("manager", "Manager"), ("admin", "Admin"), ("rep", "Rep (the deal's owner or another rep)"))
COMMON_OUTCOMES = ("held", "replied", "sent", "connected", "no_show")
MAX_VALUE = 200


def choices(pipeline: Pipeline) -> dict[str, Any]:
    from dealgate.pipelines.models import Criterion

    fields = [(name, FIELD_LABELS.get(name, name.replace("_", " ").capitalize())) for name in DEAL_FIELDS]
    fields += [(f"custom.{c.key}", f"{c.label} (custom field)") for c in CustomField.objects.order_by("label")]
    configs = list(Criterion.objects.filter(stage__pipeline=pipeline).values_list("kind", "config"))
    used = {kind: sorted({str(cfg.get(part)) for k, cfg in configs if k == kind and cfg.get(part)})
            for kind, part in (("checklist", "item"), ("approval", "condition"), ("activity", "outcome"))}
    return {
        "fields": fields, "operators": OPERATORS,
        "activities": [(a, ACTIVITY_LABELS.get(a, a)) for a in ACTIVITY_KINDS], "scopes": SCOPES,
        "roles": [(r, r.replace("_", " ").capitalize()) for r in CONTACT_ROLES],
        "approver_roles": APPROVER_ROLES, "checklist_items": used["checklist"], "conditions": used["approval"],
        "outcomes": sorted(set(COMMON_OUTCOMES) | set(used["activity"])),
    }


def _count(raw: str) -> Any:
    raw = raw.strip()
    return int(raw) if raw.isascii() and raw.isdigit() and len(raw) < 10 else (raw or 1)


def _value(raw: str) -> Any:
    """A number stays a number (1200 or "1200.50"), anything else is text."""
    raw = raw.strip()
    if len(raw) > MAX_VALUE:
        raise ValidationFailed.for_field("config.value", f"is longer than {MAX_VALUE} characters")
    if raw.isascii():
        try:
            number = Decimal(raw)
        except InvalidOperation:
            return raw
        if number.is_finite():
            return int(number) if number == number.to_integral_value() and abs(number) < 10**15 else raw
    return raw


def config_from_form(kind: str, data: Any) -> dict[str, Any]:
    """The config of a `kind` criterion from its form's inputs (a QueryDict or a dict); not yet validated."""
    get = (lambda name: str(data.get(name) or ""))
    if kind == "field":
        op = get("op") or "set"
        config: dict[str, Any] = {"field": get("field"), "op": op}
        if op == "in":
            config["value"] = [_value(part) for part in get("value").split(",") if part.strip()]
        elif op not in ("set", "true"):
            config["value"] = _value(get("value")) if get("value").strip() else None
        return config
    if kind == "checklist":
        return {"item": get("item").strip(), "group": get("group").strip(), "require_evidence": bool(data.get("require_evidence"))}
    if kind == "activity":
        return {"activity": get("activity"), "outcome": get("outcome").strip() or None, "scope": get("scope") or "stage",
                "min_count": _count(get("min_count"))}
    if kind == "contact_role":
        return {"role": get("role") or None, "min_count": _count(get("min_count"))}
    if kind == "approval":
        roles = data.getlist("approver_roles") if hasattr(data, "getlist") else list(data.get("approver_roles") or [])
        return {"condition": get("condition").strip(), "approver_roles": [str(r) for r in roles]}
    return {}  # an unknown kind: the service names the kinds it takes


def form_values(kind: str, config: dict[str, Any]) -> dict[str, Any]:
    """A saved (or just refused) config as the values of its form's inputs."""
    values = {name: config.get(name) for name in KIND_INPUTS.get(kind, ())}
    if kind == "field":
        value = config.get("value")
        values["value"] = ", ".join(map(str, value)) if isinstance(value, list) else ("" if value is None else value)
        values["op"] = config.get("op") or "set"
    if kind == "approval":
        values["approver_roles"] = list(config.get("approver_roles") or ["manager", "admin"])
    if kind == "checklist":
        values["require_evidence"] = config.get("require_evidence", True)
    if kind in ("activity", "contact_role"):
        values["min_count"] = config.get("min_count") or 1
    if kind == "activity":
        values["scope"] = config.get("scope") or "stage"
    return values
