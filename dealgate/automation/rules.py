"""Rules as data: the JSON shapes of conditions and actions, and their checks against the database.

A rule is refused on save when it names something that does not exist (a stage, a custom field,
a user, a team), with a message saying which part and why. Conditions become one query filter
(`conditions_filter`) used both when a rule fires and by the dry run, so the two cannot disagree.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any, Literal, Union

from django.contrib.auth import get_user_model
from django.db.models import Q
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, field_validator

from dealgate.automation.models import NotificationKind, Trigger
from dealgate.deals.models import Source
from dealgate.errors import ValidationFailed
from dealgate.inputs import storable_text
from dealgate.people.models import Team
from dealgate.pipelines.models import CustomField, Pipeline, Stage
from dealgate.signals.models import SignalKind


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


Text = Annotated[str, Field(min_length=1, max_length=200)]
Recipient = Literal["owner", "manager", "account_owner"]


class Conditions(_Strict):
    """Every listed condition must hold (an empty list or None means "any")."""

    stages: list[str] = Field(default_factory=list, description="stage keys the deal is in")
    amount_min: Decimal | None = None
    amount_max: Decimal | None = None
    owners: list[str] = Field(default_factory=list, description="owner usernames")
    teams: list[str] = Field(default_factory=list, description="team names")
    sources: list[str] = Field(default_factory=list)
    fields: dict[str, Any] = Field(default_factory=dict, description="custom field key -> value it must have")
    # "signal raised" only (owners and teams then mean the account's owner):
    signal_kinds: list[str] = Field(default_factory=list, description="signal kinds (missed_reorder, ...)")
    revenue_min: Decimal | None = Field(default=None, ge=0, description="the signal's revenue at risk or on offer")


class CreateTaskAction(_Strict):
    type: Literal["create_task"]
    title: Text
    due_in_days: int = Field(default=0, ge=0, le=365)
    business_days: bool = False
    assignee: Recipient = "owner"


class NotifyAction(_Strict):
    type: Literal["notify"]
    to: Recipient = "owner"
    kind: Literal["assigned", "task", "alert"] = NotificationKind.ALERT
    title: Text
    body: str = Field(default="", max_length=2000)


class SetFieldAction(_Strict):
    type: Literal["set_field"]
    field: str = Field(description="a deal field (amount, forecast_category, ...) or custom.<key>")
    value: Any = None


class MoveAction(_Strict):
    type: Literal["move_to_stage"]
    stage: str = Field(description="stage key; the stage gates apply as for a person without override")


class WebhookAction(_Strict):
    type: Literal["webhook"]
    url: str = Field(max_length=2000, description="http:// or https:// address the deal's event is POSTed to")
    secret: str | None = Field(default=None, min_length=16, max_length=200,
                               description="signs each POST (X-Dealgate-Signature); never shown back")

    @field_validator("url")
    @classmethod
    def _web_address(cls, value: str) -> str:
        from dealgate.automation.webhooks import url_problem

        problem = url_problem(value)
        if problem:
            raise ValueError(problem)
        return value


class ConvertAction(_Strict):
    type: Literal["convert_to_deal"]


Action = Annotated[Union[CreateTaskAction, NotifyAction, SetFieldAction, MoveAction, WebhookAction, ConvertAction],
                   Field(discriminator="type")]
ACTIONS = TypeAdapter(list[Action])
SETTABLE_FIELDS = ("title", "amount", "currency", "expected_close_date", "probability_override",
                   "forecast_category", "source")


ACTION_TYPES = {"create_task", "notify", "set_field", "move_to_stage", "convert_to_deal"}
# What each kind of rule can act on: a deal rule's actions, and a signal rule's (on the signal's account).
SIGNAL_ACTIONS = ("create_task", "notify", "convert_to_deal")
DEAL_ONLY_CONDITIONS = ("stages", "amount_min", "amount_max", "sources", "fields")
SIGNAL_ONLY_CONDITIONS = ("signal_kinds", "revenue_min")


def _pydantic_problems(exc: ValidationError, part: str) -> list[tuple[str, str]]:
    """(where, message) per error; `where` is `part.<index>.<field>` (the action's type tag left out)."""
    problems = []
    for err in exc.errors():
        loc = [str(p) for p in err["loc"] if not str(p).startswith("function-") and str(p) not in ACTION_TYPES]
        problems.append((".".join([part, *loc]), err["msg"].removeprefix("Value error, ")))
    return problems


def refusal(intro: str, problems: list[tuple[str, str]]) -> ValidationFailed:
    """One refusal naming every problem; `details` maps where (e.g. `actions.1.stage`) to its messages."""
    details: dict[str, list[str]] = {}
    for where, message in problems:
        details.setdefault(where, []).append(message)
    return ValidationFailed(intro + "; ".join(f"{where}: {message}" for where, message in problems), details=details)


def parse_conditions(raw: Any) -> Conditions:
    try:
        return Conditions.model_validate(raw or {})
    except ValidationError as exc:
        raise refusal("The rule's conditions are not valid: ", _pydantic_problems(exc, "conditions")) from None


def parse_actions(raw: Any) -> list[Any]:
    try:
        actions = ACTIONS.validate_python(raw or [])
    except ValidationError as exc:
        raise refusal("The rule's actions are not valid: ", _pydantic_problems(exc, "actions")) from None
    if not actions:
        raise ValidationFailed.for_field("actions", "a rule needs at least one action")
    return actions


def _stage_keys(pipeline: Pipeline | None) -> set[str]:
    stages = Stage.objects.all() if pipeline is None else Stage.objects.filter(pipeline=pipeline)
    return set(stages.values_list("key", flat=True))


def _missing(wanted: list[str], known: set[str]) -> list[str]:
    return sorted(set(wanted) - known)


def retired_stages(pipeline: Pipeline | None) -> dict[str, str]:
    """Stage key -> name for the keys no deal can enter or sit in (decision 036): retired in the rule's
    pipeline, or, for a rule on any pipeline, retired wherever the key exists."""
    stages = Stage.objects.all() if pipeline is None else Stage.objects.filter(pipeline=pipeline)
    live = set(stages.filter(retired_at__isnull=True).values_list("key", flat=True))
    return {key: name for key, name in stages.filter(retired_at__isnull=False).values_list("key", "name")
            if key not in live}


def named_stages(trigger_stage: str, conditions: Any, actions: Any) -> dict[str, set[str]]:
    """The stage keys a rule names, per part: its trigger ("trigger_stage"), its 'in stage' condition
    ("conditions.stages") and its move actions ("stage")."""
    listed = (conditions or {}).get("stages") if isinstance(conditions, dict) else None
    moves = [a.get("stage") for a in actions or [] if isinstance(a, dict) and a.get("type") == "move_to_stage"]

    def keys(values: Any) -> set[str]:
        return {k for k in values if isinstance(k, str) and k}

    return {"trigger_stage": keys([trigger_stage]),
            "conditions.stages": keys(listed if isinstance(listed, list) else []), "stage": keys(moves)}


RETIRED_WORDS = {"trigger_stage": "no deal can enter it", "conditions.stages": "no deal can be in it",
                 "stage": "no deal can be moved to it"}


def _retired_problems(trigger_stage: str, c: Conditions, steps: list[Any], retired: dict[str, str],
                      keep: dict[str, set[str]]) -> list[tuple[str, str]]:
    """A new mention of a retired stage is refused; one the rule already had in that part is kept (it
    shows as retired on the rules list, which says the rule can no longer fire for it)."""
    def refused(key: str, part: str) -> bool:
        return key in retired and key not in keep.get(part, set())

    def why(key: str, part: str) -> str:
        return (f"stage {retired[key]!r} is retired: {RETIRED_WORDS[part]}; restore it in settings or choose "
                "another stage")

    problems = [("trigger_stage", why(k, "trigger_stage")) for k in [trigger_stage] if refused(k, "trigger_stage")]
    problems += [("conditions.stages", why(k, "conditions.stages"))
                 for k in c.stages if refused(k, "conditions.stages")]
    problems += [(f"actions.{i}.stage", why(step.stage, "stage")) for i, step in enumerate(steps)
                 if isinstance(step, MoveAction) and refused(step.stage, "stage")]
    return problems


def retired_notes(rule: Any, retired: dict[str, str] | None = None) -> list[str]:
    """What a rule can no longer do because a stage it names is retired, in words for the rules list
    and the dry run. `retired`: `retired_stages(rule.pipeline)`, when the caller has it already."""
    retired = retired_stages(rule.pipeline) if retired is None else retired
    named = set().union(*named_stages(rule.trigger_stage, rule.conditions, rule.actions).values())
    return [f"{retired[key]} is retired: this rule can no longer fire for it. Restore the stage in settings "
            "or edit the rule." for key in sorted(named & set(retired))]


def check_rule(*, trigger: str, trigger_stage: str, pipeline: Pipeline | None, conditions: Any,
               actions: Any, idle_days: Any = None, keep: dict[str, set[str]] | None = None
               ) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Validate a rule completely; return its conditions and actions as they will be stored. `keep`: the
    stage keys the rule already named, per part (`named_stages`), allowed even if retired since (a new
    mention of one is refused)."""
    if trigger not in Trigger.values:
        raise ValidationFailed.for_field("trigger", f"{trigger!r} is not one of {', '.join(Trigger.values)}")
    if idle_days is not None:
        if trigger != Trigger.DEAL_IDLE:
            raise ValidationFailed.for_field("idle_days", "only the 'deal idle' trigger counts idle days")
        if isinstance(idle_days, bool) or not isinstance(idle_days, int) or not 1 <= idle_days <= 3650:
            raise ValidationFailed.for_field("idle_days", "must be a whole number of days from 1 to 3650")
    parsed, steps = parse_conditions(conditions), parse_actions(actions)
    if any(isinstance(step, WebhookAction) and not step.secret for step in steps):
        raise ValidationFailed.for_field("actions.webhook.secret",
                                         "is required: 16 to 200 characters the receiver also knows")
    _refuse_other_kind_of_rule(trigger, pipeline, parsed, steps)
    where = f"pipeline {pipeline.key!r}" if pipeline else "any pipeline"
    stages = _stage_keys(pipeline)
    if trigger == Trigger.STAGE_ENTERED:
        if not trigger_stage:
            raise ValidationFailed.for_field("trigger_stage", "'entered a stage' needs the stage")
        if trigger_stage not in stages:
            raise ValidationFailed.for_field("trigger_stage", f"no stage {trigger_stage!r} in {where}")
    elif trigger_stage:
        raise ValidationFailed.for_field("trigger_stage", "only the 'entered a stage' trigger names a stage")
    stored = parsed.model_dump(mode="json", exclude_defaults=True), [s.model_dump(mode="json") for s in steps]
    _refuse_unstorable_text(stored)  # before the lookups below: PostgreSQL cannot even compare such text
    problems = _condition_problems(parsed, stages, where)
    problems += [p for index, step in enumerate(steps) for p in _action_problems(index, step, stages, where)]
    if problems:
        raise refusal("The rule names something that does not exist: ", problems)
    retired = _retired_problems(trigger_stage, parsed, steps, retired_stages(pipeline), keep or {})
    if retired:
        raise refusal("The rule names a retired stage: ", retired)
    return stored


def _refuse_other_kind_of_rule(trigger: str, pipeline: Pipeline | None, c: Conditions, steps: list[Any]) -> None:
    """A signal rule has no deal to filter or change (it acts on the signal's account); a deal rule
    has no signal."""
    problems = []
    if trigger == Trigger.SIGNAL_RAISED:
        if pipeline is not None:
            problems.append(("pipeline", "a signal is on an account, not in a pipeline: leave the pipeline empty"))
        problems += [(f"conditions.{name}", "a signal rule has no deal to compare: use signal kinds, minimum "
                      "revenue, owners or teams") for name in DEAL_ONLY_CONDITIONS if getattr(c, name)
                     not in (None, [], {})]
        problems += [(f"actions.{index}.type", f"a signal rule can only {', '.join(SIGNAL_ACTIONS)} "
                      f"(there is no deal to {step.type.replace('_', ' ')})")
                     for index, step in enumerate(steps) if step.type not in SIGNAL_ACTIONS]
    else:
        problems += [(f"conditions.{name}", "only the 'signal raised' trigger has signals to compare")
                     for name in SIGNAL_ONLY_CONDITIONS if getattr(c, name) not in (None, [])]
        problems += [(f"actions.{index}.type", "only a 'signal raised' rule has a signal to convert")
                     for index, step in enumerate(steps) if step.type == "convert_to_deal"]
    if problems:
        raise refusal("The rule mixes signals and deals: ", problems)


def _refuse_unstorable_text(value: Any, where: str = "rule") -> None:
    """A NUL byte or a lone surrogate anywhere in the JSON would fail in PostgreSQL: refuse it here."""
    if isinstance(value, str):
        storable_text(value, where)
    elif isinstance(value, dict):
        for key, item in value.items():
            storable_text(key, where)
            _refuse_unstorable_text(item, f"{where}.{key}")
    elif isinstance(value, (list, tuple)):
        part = {0: "conditions", 1: "actions"} if where == "rule" else {}
        for index, item in enumerate(value):
            _refuse_unstorable_text(item, part.get(index, f"{where}.{index}"))


def _condition_problems(c: Conditions, stages: set[str], where: str) -> list[tuple[str, str]]:
    problems = [("conditions.stages", f"no stage {k!r} in {where}") for k in _missing(c.stages, stages)]
    users = set(get_user_model().objects.filter(username__in=c.owners).values_list("username", flat=True))
    problems += [("conditions.owners", f"no user {u!r}") for u in _missing(c.owners, users)]
    teams = set(Team.objects.filter(name__in=c.teams).values_list("name", flat=True))
    problems += [("conditions.teams", f"no team {t!r}") for t in _missing(c.teams, teams)]
    problems += [("conditions.sources", f"{s!r} is not a source") for s in _missing(c.sources, set(Source.values))]
    problems += [("conditions.signal_kinds", f"{k!r} is not a signal kind")
                 for k in _missing(c.signal_kinds, set(SignalKind.values))]
    fields = set(CustomField.objects.values_list("key", flat=True))
    problems += [("conditions.fields", f"no custom field {f!r}") for f in _missing(list(c.fields), fields)]
    if c.amount_min is not None and c.amount_max is not None and c.amount_min > c.amount_max:
        problems.append(("conditions.amount_min", "is more than amount_max"))
    return problems


def _action_problems(index: int, step: Any, stages: set[str], where: str) -> list[tuple[str, str]]:
    if isinstance(step, MoveAction) and step.stage not in stages:
        return [(f"actions.{index}.stage", f"no stage {step.stage!r} in {where}")]
    if isinstance(step, SetFieldAction):
        if step.field.startswith("custom."):
            key = step.field.removeprefix("custom.")
            if not CustomField.objects.filter(key=key).exists():
                return [(f"actions.{index}.field", f"no custom field {key!r}")]
        elif step.field not in SETTABLE_FIELDS:
            return [(f"actions.{index}.field", f"{step.field!r} is not a field a rule can set "
                     f"(use one of {', '.join(SETTABLE_FIELDS)} or custom.<key>)")]
    return []


# Each condition as the query lookup it becomes, on deals and on signals.
DEAL_LOOKUPS = {"stages": "stage__key__in", "amount_min": "amount__gte", "amount_max": "amount__lte",
                "owners": "owner__username__in", "teams": "team__name__in", "sources": "source__in"}
SIGNAL_LOOKUPS = {"signal_kinds": "kind__in", "revenue_min": "revenue__gte", "owners": "account__owner__username__in",
                  "teams": "account__owner__profile__team__name__in"}


def _lookups(c: Conditions, lookups: dict[str, str]) -> Q:
    """Every condition that is set (a non-empty list, a number), as its lookup; all must hold."""
    q = Q()
    for name, lookup in lookups.items():
        value = getattr(c, name)
        if value is not None and value != []:
            q &= Q(**{lookup: value})
    return q


def conditions_filter(rule: Any) -> Q:
    """The rule's pipeline and conditions as one filter on deals."""
    c = Conditions.model_validate(rule.conditions or {})
    q = Q(pipeline_id=rule.pipeline_id) if rule.pipeline_id else Q()
    q &= _lookups(c, DEAL_LOOKUPS)
    for key, value in c.fields.items():
        q &= Q(**{f"custom_fields__{key}": value})
    return q


def describe(rule: Any) -> str:
    """The rule in one line of words, for lists and the CLI."""
    trigger = Trigger(rule.trigger).label
    if rule.trigger == Trigger.STAGE_ENTERED:
        trigger = f"Deal entered {rule.trigger_stage}"
    elif rule.trigger == Trigger.DEAL_IDLE:
        trigger = f"Deal idle {rule.idle_days} days" if rule.idle_days else "Deal idle past its stage's idle limit"
    c = Conditions.model_validate(rule.conditions or {})
    whose = "account owner" if rule.trigger == Trigger.SIGNAL_RAISED else "owner"
    kinds = [SignalKind(k).label.lower() for k in c.signal_kinds if k in SignalKind.values]
    parts = [f"{name} in {', '.join(map(str, values))}" for name, values in
             (("kind", kinds), ("stage", c.stages), (whose, c.owners), ("team", c.teams), ("source", c.sources))
             if values]
    if c.revenue_min is not None:
        parts.append(f"revenue ≥ {c.revenue_min}")
    if c.amount_min is not None:
        parts.append(f"amount ≥ {c.amount_min}")
    if c.amount_max is not None:
        parts.append(f"amount ≤ {c.amount_max}")
    parts += [f"{k} = {v!r}" for k, v in c.fields.items()]
    steps = []
    for a in rule.actions:
        if a["type"] == "create_task":
            unit = "business days" if a.get("business_days") else "days"
            steps.append(f"task '{a['title']}' for the {_who(rule, a.get('assignee', 'owner'))} due in "
                         f"{a.get('due_in_days', 0)} {unit}")
        elif a["type"] == "notify":
            steps.append(f"notify the {_who(rule, a.get('to', 'owner'))}: {a['title']}")
        elif a["type"] == "convert_to_deal":
            steps.append("convert the signal to a deal")
        elif a["type"] == "set_field":
            steps.append(f"set {a['field']} to {a.get('value')!r}")
        elif a["type"] == "webhook":
            steps.append(f"POST the deal to {a['url']} (signed)")
        else:
            steps.append(f"move to {a['stage']}")
    when = f" if {' and '.join(parts)}" if parts else ""
    return f"{trigger}{when}: {'; '.join(steps)}"


def _who(rule: Any, recipient: str) -> str:
    if recipient == "account_owner" or (rule.trigger == Trigger.SIGNAL_RAISED and recipient == "owner"):
        return "account owner"
    return "account owner's manager" if rule.trigger == Trigger.SIGNAL_RAISED else recipient


def signal_filter(rule: Any) -> Q:
    """A signal rule's conditions as one filter on signals (owners and teams: the account's owner)."""
    return _lookups(Conditions.model_validate(rule.conditions or {}), SIGNAL_LOOKUPS)


def signals_it_would_act_on(rule: Any) -> Any:
    """The dry run of a signal rule: the new (not yet handled) signals meeting its conditions now."""
    from dealgate.signals.models import Signal, SignalStatus

    return (Signal.objects.filter(status=SignalStatus.NEW).filter(signal_filter(rule))
            .select_related("account", "account__owner").order_by("-revenue", "-id"))


def would_act_on(rule: Any) -> Any:
    """The dry run: open deals meeting the rule's pipeline and conditions now (for 'entered a
    stage', those in that stage). Shared by `dealgate rules test` and the rules page."""
    from dealgate.deals.models import Deal

    deals = Deal.objects.filter(closed_at__isnull=True).filter(conditions_filter(rule))
    if rule.trigger == Trigger.STAGE_ENTERED:
        deals = deals.filter(stage__key=rule.trigger_stage)
    return deals.select_related("stage", "owner").order_by("-created_at", "-id")
