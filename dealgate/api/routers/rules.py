"""Automation rules for admins: list, create, change, delete. The same rule service (and its checks) as
the settings form and the templates; conditions and actions are the JSON shapes of docs/automation.md."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from ninja import Field, Router, Schema

from dealgate.api.routers import ERRORS, WRITE_ERRORS
from dealgate.api.routers.lookups import MAX_ID
from dealgate.api.schemas import InputSchema, Key, Text
from dealgate.automation import services
from dealgate.automation.models import Rule
from dealgate.automation.rules import describe
from dealgate.automation.webhooks import public_actions
from dealgate.errors import NotAllowed, NotFound, ValidationFailed
from dealgate.people.access import role_of
from dealgate.people.models import Role
from dealgate.pipelines.models import Pipeline

router = Router(tags=["rules"])


class RuleOut(Schema):
    id: int
    name: str
    enabled: bool
    trigger: str
    trigger_stage: str = Field(description="Stage key for stage_entered; empty otherwise.")
    idle_days: int | None
    pipeline: str | None = Field(description="Pipeline key; null means every pipeline.")
    conditions: dict[str, Any]
    actions: list[dict[str, Any]]
    description: str = Field(description="The rule in words, as the rules page shows it.")
    updated_at: dt.datetime

    @staticmethod
    def resolve_pipeline(row: Any) -> str | None:
        return row.pipeline.key if row.pipeline_id else None

    @staticmethod
    def resolve_description(row: Any) -> str:
        return describe(row)

    @staticmethod
    def resolve_actions(row: Any) -> list[dict[str, Any]]:
        return public_actions(row.actions)  # a webhook's secret is never sent back


RuleName = Annotated[Text, Field(min_length=1, max_length=200)]
StageKey = Annotated[Text, Field(max_length=60)]


class RuleIn(InputSchema):
    name: RuleName
    trigger: Annotated[Text, Field(max_length=30, description="deal_created, stage_entered, deal_idle, ...")]
    trigger_stage: StageKey = Field("", description="For stage_entered: the stage key (in the rule's pipeline).")
    idle_days: int | None = Field(None, description="For deal_idle: days; null means the stage's idle limit.")
    pipeline: Key | None = Field(None, description="Pipeline key; null means every pipeline.")
    conditions: dict[str, Any] = Field(default_factory=dict, description="See docs/automation.md.")
    actions: list[dict[str, Any]] = Field(description="At least one; see docs/automation.md.")
    enabled: bool = True


class RuleUpdateIn(InputSchema):
    """Send only what changes; the whole rule is checked again."""

    name: RuleName | None = None
    trigger: Annotated[Text, Field(max_length=30)] | None = None
    trigger_stage: StageKey | None = None
    idle_days: int | None = None
    pipeline: Key | None = Field(None, description="Pipeline key; null means every pipeline.")
    conditions: dict[str, Any] | None = None
    actions: list[dict[str, Any]] | None = None
    enabled: bool | None = None


def _admin(user: Any) -> None:
    if role_of(user) != Role.ADMIN:
        raise NotAllowed("Only an administrator may read or change automation rules.")


def _rule(rule_id: int) -> Rule:
    rule = Rule.objects.select_related("pipeline").filter(pk=rule_id).first() if 0 < rule_id <= MAX_ID else None
    if rule is None:
        raise NotFound(f"No rule {rule_id}.", details={"rule": rule_id})
    return rule


def _pipeline(key: str | None) -> Pipeline | None:
    if key is None:
        return None
    pipeline = Pipeline.objects.filter(key=key).first()
    if pipeline is None:
        raise NotFound(f"No pipeline {key!r}.", details={"pipeline": [f"no pipeline {key!r}"]})
    return pipeline


@router.get("", response={200: list[RuleOut], **ERRORS}, summary="Every automation rule (admins)")
def list_rules(request):
    _admin(request.auth)
    return list(Rule.objects.select_related("pipeline"))


@router.post("", response={201: RuleOut, **WRITE_ERRORS}, summary="Create a rule (admins); checked like the settings form")
def create_rule(request, payload: RuleIn):
    _admin(request.auth)
    fields = payload.dict()
    fields["pipeline"] = _pipeline(fields["pipeline"])
    rule = services.create_rule(by=request.auth, **fields)
    return 201, _rule(rule.pk)


@router.patch("/{int:rule_id}", response={200: RuleOut, **WRITE_ERRORS}, summary="Change a rule (admins)")
def update_rule(request, rule_id: int, payload: RuleUpdateIn):
    _admin(request.auth)
    rule = _rule(rule_id)
    changes = payload.dict(exclude_unset=True)
    nulls = sorted(name for name, value in changes.items() if value is None and name not in ("pipeline", "idle_days"))
    if nulls:
        raise ValidationFailed(f"{', '.join(nulls)}: cannot be null (leave it out to keep it).",
                               details={name: ["cannot be null"] for name in nulls})
    if "pipeline" in changes:
        changes["pipeline"] = _pipeline(changes["pipeline"])
    services.update_rule(rule, by=request.auth, **changes)
    return _rule(rule_id)


@router.delete("/{int:rule_id}", response={204: None, **WRITE_ERRORS}, summary="Delete a rule and its run log (admins)")
def delete_rule(request, rule_id: int):
    _admin(request.auth)
    services.delete_rule(_rule(rule_id), by=request.auth)
    return 204, None
