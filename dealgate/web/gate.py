"""Criteria as the web pages show them: each result paired with the form that fixes it.

The refusal panel on the board and the checklist on the deal page both list criteria; each
unmet one carries what its inline fix form needs (which service action, which input), so the
person fixes it where they see it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from dealgate.deals.models import Contact, ContactRole, Deal, ForecastCategory, Source
from dealgate.deals.services import required_criteria
from dealgate.people.access import role_of
from dealgate.pipelines.criteria import (
    DEAL_FIELDS,
    ActivityConfig,
    ApprovalConfig,
    ChecklistConfig,
    ContactRoleConfig,
    CriterionSpec,
    FieldConfig,
    Result,
    evaluate,
    load_facts,
)
from dealgate.pipelines.gate import PipelineRules
from dealgate.pipelines.models import CustomField, Stage

INPUT_TYPES = {"number": "number", "date": "date", "text": "text", "boolean": "checkbox"}
FIELD_CHOICES = {"forecast_category": ForecastCategory.choices, "source": Source.choices}


@dataclass
class GateItem:
    spec: CriterionSpec
    result: Result
    form_id: str
    fix: str = ""  # which action fixes it: checklist, field, next_step, activity, contact, approve; "" = none here
    field_name: str = ""
    input_type: str = "text"
    choices: list[tuple[str, str]] = field(default_factory=list)
    can_approve: bool = True
    approver_roles: str = ""

    @property
    def met(self) -> bool:
        return self.result.met


def _item(deal: Deal, spec: CriterionSpec, result: Result, user: Any, custom_types: dict[str, str]) -> GateItem:
    item = GateItem(spec, result, form_id=f"{spec.stage_name}-{spec.phase}-{spec.key}".lower().replace(" ", "-"))
    cfg = spec.config
    if isinstance(cfg, ChecklistConfig):
        item.fix, item.field_name = "checklist", cfg.item
    elif isinstance(cfg, FieldConfig):
        if cfg.field in ("next_step", "next_step_due"):
            item.fix = "next_step"
        elif cfg.field.startswith("custom."):
            key = cfg.field.removeprefix("custom.")
            item.fix, item.field_name = "field", cfg.field
            item.input_type = INPUT_TYPES.get(custom_types.get(key, "text"), "text")
        elif DEAL_FIELDS.get(cfg.field) != "ref":
            item.fix, item.field_name = "field", cfg.field
            item.input_type = INPUT_TYPES.get(DEAL_FIELDS[cfg.field], "text")
            item.choices = list(FIELD_CHOICES.get(cfg.field, []))
    elif isinstance(cfg, ActivityConfig):
        item.fix, item.field_name = "activity", cfg.activity
    elif isinstance(cfg, ContactRoleConfig):
        item.fix, item.field_name = "contact", cfg.role or ""
    elif isinstance(cfg, ApprovalConfig):
        item.fix, item.field_name = "approve", cfg.condition
        item.approver_roles = " or ".join(cfg.approver_roles)
        item.can_approve = role_of(user) in cfg.approver_roles
    return item


def items_for(deal: Deal, specs: list[CriterionSpec], user: Any) -> list[GateItem]:
    """Evaluate `specs` on one deal (a fixed handful of queries) and attach each fix form."""
    if not specs:
        return []
    facts = load_facts([deal.pk])[deal.pk]
    custom_types = dict(CustomField.objects.values_list("key", "type"))
    return [_item(deal, spec, result, user, custom_types) for spec, result in zip(specs, evaluate(specs, facts))]


def move_items(deal: Deal, to_stage: Stage, user: Any, rules: PipelineRules | None = None) -> list[GateItem]:
    """Every criterion standing between the deal and `to_stage` (met ones included, for progress)."""
    rules = rules or PipelineRules.load(deal.pipeline_id)
    return items_for(deal, required_criteria(deal, to_stage, rules), user)


def next_move_items(deal: Deal, user: Any, rules: PipelineRules | None = None) -> tuple[Stage | None, list[GateItem]]:
    """The next stage and every criterion its move needs (this stage's exit, the next one's entry): the
    count the card shows (decision 029)."""
    rules = rules or PipelineRules.load(deal.pipeline_id)
    target, specs = rules.next_move(rules.stages[deal.stage_id])
    return target, items_for(deal, specs, user)


def contact_choices(deal: Deal) -> list[Contact]:
    """Contacts a person may link from this deal: those of the deal's account."""
    return list(Contact.objects.filter(account_id=deal.account_id).order_by("name")[:200])


CONTACT_ROLES = ContactRole.choices
