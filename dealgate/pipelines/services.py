"""Write paths for pipelines: create one from a template, seed lost reasons, validate criteria and stage order.

Every pipeline write goes through here (the CLI `init`, the demo generator, tests), so a
pipeline is always created whole inside one transaction or not at all.
"""

from __future__ import annotations

import copy
from typing import Any, Iterable, NamedTuple

from django.db import IntegrityError, transaction

from dealgate.audit.services import record
from dealgate.errors import ValidationFailed
from dealgate.pipelines.criteria import CriterionConfigError, FieldConfig, parse_config
from dealgate.pipelines.models import Criterion, CustomField, LostReason, Pipeline, Stage, StageKind
from dealgate.pipelines.templates import DEFAULT_LOST_REASONS, TEMPLATES

TEMPLATE_NAMES: tuple[str, ...] = tuple(TEMPLATES)


def validate_criterion(kind: str, config: Any) -> None:
    """Refuse a criterion config the engine cannot evaluate, or one naming a custom field nobody defined.

    Raises CriterionConfigError with a sentence an admin can act on.
    """
    parsed = parse_config(kind, config)
    if isinstance(parsed, FieldConfig) and parsed.field.startswith("custom."):
        custom_key = parsed.field.removeprefix("custom.")
        if not CustomField.objects.filter(key=custom_key).exists():
            known = sorted(CustomField.objects.values_list("key", flat=True))
            hint = f"defined custom fields: {', '.join(known)}" if known else "no custom fields are defined yet"
            raise CriterionConfigError(
                f"field criterion: field: unknown custom field {custom_key!r}; add it under Custom fields first "
                f"({hint})", details={"field": [f"unknown custom field {custom_key!r}; add it under Custom fields first"]}
            )


class StagePlace(NamedTuple):
    """A stage as the order check sees it: a row, a template's stage, or an admin form not yet saved."""

    name: str
    kind: str
    position: int


def stage_order_problems(stages: Iterable[Any], *, complete: bool = True) -> list[str]:
    """Each way a pipeline's stages break the order every move relies on, with its fix; [] if none.

    `stages`: anything with `name`, `kind` and `position` (rows, or an admin's unsaved forms). The
    rule: at least one open (selling) stage, exactly one Won and one Lost, and every open stage before
    every other stage, so "forward", "skipped" and "reached a later stage" mean one thing. Post-sale
    stages (decision 010) sit after the open stages. `complete=False` checks a pipeline still being
    built one stage at a time: only what the stages given break, not what is still missing.
    """
    ordered = sorted(stages, key=lambda s: s.position)
    problems: list[str] = []
    positions = [s.position for s in ordered]
    for position in sorted({p for p in positions if positions.count(p) > 1}):
        names = ", ".join(repr(s.name) for s in ordered if s.position == position)
        problems.append(f"stages {names} share position {position}; give each stage its own position")
    open_stages = [s for s in ordered if s.kind == StageKind.OPEN]
    if complete and not open_stages:
        problems.append("there is no open stage; add at least one open (selling) stage before Won and Lost")
    for kind, label in ((StageKind.WON, "Won"), (StageKind.LOST, "Lost")):
        found = [s for s in ordered if s.kind == kind]
        if complete and not found:
            problems.append(f"there is no {label} stage; add one stage of kind '{kind}' after the open stages")
        elif len(found) > 1:
            names = ", ".join(repr(s.name) for s in found)
            problems.append(f"there are {len(found)} {label} stages ({names}); keep exactly one of kind '{kind}'")
    first_other = next((s for s in ordered if s.kind != StageKind.OPEN), None)
    for stage in open_stages:
        if first_other is not None and stage.position > first_other.position:
            problems.append(
                f"open stage {stage.name!r} (position {stage.position}) comes after {first_other.name!r} "
                f"(position {first_other.position}); move it before Won, Lost and any post-sale stage, "
                "or make it a post-sale stage")
    return problems


def validate_stage_order(stages: Iterable[Any], *, pipeline_name: str = "", complete: bool = True) -> None:
    """Raise ValidationFailed listing every stage-order problem: the settings page, the API and the admin
    all refuse an order through this one function, and `dealgate check` reports with it."""
    problems = stage_order_problems(stages, complete=complete)
    if problems:
        where = f"Pipeline {pipeline_name!r}" if pipeline_name else "This pipeline"
        raise ValidationFailed(f"{where} has its stages out of order: " + "; ".join(problems) + ".",
                               details={"stages": problems})


def ensure_lost_reasons() -> list[LostReason]:
    """Create the default lost reasons that are missing; never touches reasons an admin edited."""
    reasons = []
    for key, label in DEFAULT_LOST_REASONS:
        reason, _ = LostReason.objects.get_or_create(key=key, defaults={"label": label})
        reasons.append(reason)
    return reasons


def create_pipeline_from_template(template: str, *, key: str | None = None, name: str | None = None,
                                  by: Any = None) -> Pipeline:
    """Build a pipeline with its stages and criteria from a named template, all or nothing.

    `key` defaults to the template name, so the same template can be used twice with two keys.
    """
    spec = TEMPLATES.get(template)
    if spec is None:
        valid = ", ".join(TEMPLATE_NAMES)
        raise ValidationFailed(
            f"Unknown template {template!r}; choose one of: {valid}.",
            details={"template": [f"unknown template; valid templates: {valid}"]},
        )
    key = (key or template).strip()
    name = (name or spec["name"]).strip()
    validate_stage_order(
        [StagePlace(stage["name"], stage.get("kind", "open"), n) for n, stage in enumerate(spec["stages"], start=1)],
        pipeline_name=name)
    if not key:
        raise ValidationFailed.for_field("key", "a pipeline needs a key")
    if Pipeline.objects.filter(key=key).exists():
        raise _duplicate_key(key)
    try:
        with transaction.atomic():
            pipeline = Pipeline.objects.create(
                key=key, name=name, template=template,
                single_threaded_from=spec.get("single_threaded_from"),
                business_days=spec.get("business_days", False),
            )
            for position, stage_spec in enumerate(spec["stages"], start=1):
                _create_stage(pipeline, position, stage_spec)
            ensure_lost_reasons()
            record(pipeline, "created", by=by, field="template", after=template)

            from dealgate.automation.seed import seed_template_rules  # automation sits above pipelines

            seed_template_rules(pipeline, template)
    except IntegrityError:
        if Pipeline.objects.filter(key=key).exists():  # someone created the key since our check
            raise _duplicate_key(key) from None
        raise
    return pipeline


def _duplicate_key(key: str) -> ValidationFailed:
    return ValidationFailed(
        f"A pipeline with key {key!r} already exists; choose another key (e.g. --key {key}-2).",
        details={"key": [f"pipeline key {key!r} is taken"]},
    )


def _create_stage(pipeline: Pipeline, position: int, spec: dict[str, Any]) -> Stage:
    stage = Stage.objects.create(
        pipeline=pipeline, key=spec["key"], name=spec["name"], position=position, kind=spec.get("kind", "open"),
        probability=spec["probability"], goal=spec.get("goal", ""), exit_question=spec.get("exit_question", ""),
        guidance=spec.get("guidance", ""), rot_days=spec.get("rot_days"),
    )
    criteria = []
    for phase in ("entry", "exit"):
        for order, crit in enumerate(spec.get(phase, ()), start=1):
            parse_config(crit["kind"], crit["config"])  # templates are data: fail loudly if one is wrong
            criteria.append(Criterion(stage=stage, phase=phase, key=crit["key"], label=crit["label"],
                                      kind=crit["kind"], config=copy.deepcopy(crit["config"]), position=order))
    Criterion.objects.bulk_create(criteria)
    return stage
