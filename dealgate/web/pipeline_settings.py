"""Admin edits of pipelines, stages and criteria made from the settings pages.

These are the write paths behind the settings screens: each validates first (a bad probability or
criterion config raises ValidationFailed naming the field) and writes in one transaction. They
belong with the other pipeline writes in `dealgate/pipelines/services.py`; they live here only
until that module grows stage and criterion editing.
"""

from __future__ import annotations

import json
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone

from dealgate.audit.services import changes_since, record, record_changes, snapshot
from dealgate.deals.timeline import refresh_spans
from dealgate.errors import NotAllowed, ValidationFailed
from dealgate.inputs import storable_text
from dealgate.people.access import role_of
from dealgate.people.models import Role
from dealgate.pipelines.criteria import CriterionConfigError
from dealgate.pipelines.models import Criterion, CriterionKind, Phase, Pipeline, Stage, StageKind
from dealgate.pipelines.services import StagePlace, validate_criterion, validate_stage_order


def _require_admin(by: Any) -> None:
    if by is not None and role_of(by) != Role.ADMIN:
        raise NotAllowed("Only an administrator may change pipelines, stages and criteria.")


def _int(value: Any, field: str, *, low: int, high: int, required: bool = True) -> int | None:
    if value in (None, ""):
        if required:
            raise ValidationFailed.for_field(field, "is required")
        return None
    if isinstance(value, str) and not value.strip().isascii():  # int() reads Arabic-Indic or full-width digits too
        raise ValidationFailed.for_field(field, f"{value[:40]!r} is not a whole number; use the digits 0-9")
    try:
        number = int(value)
    except (TypeError, ValueError, OverflowError):
        raise ValidationFailed.for_field(field, f"{str(value)[:40]!r} is not a whole number") from None
    if not low <= number <= high:
        raise ValidationFailed.for_field(field, f"must be between {low} and {high}")
    return number


def _text(value: Any, field: str, *, max_length: int, required: bool = False) -> str:
    text = storable_text(value or "", field).strip()
    if required and not text:
        raise ValidationFailed.for_field(field, "is required")
    if len(text) > max_length:
        raise ValidationFailed.for_field(field, f"is longer than {max_length} characters")
    return text


def _has_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_nul(v) for v in value)
    return False


def _config(value: Any, kind: str) -> dict:
    try:
        config = json.loads(value) if isinstance(value, str) else value
    except json.JSONDecodeError as exc:
        raise ValidationFailed.for_field("config", f"is not valid JSON: {exc.msg} (line {exc.lineno})") from None
    if _has_nul(config):  # PostgreSQL's jsonb cannot store a NUL character
        raise ValidationFailed.for_field("config", "must not contain NUL characters")
    try:
        validate_criterion(kind, config)
    except CriterionConfigError as exc:
        # "config" has the whole sentence; "config.<part>" each part's messages, for a form's inputs.
        parts = {f"config.{where}": msgs for where, msgs in exc.details.items()}
        raise ValidationFailed(f"config: {exc}", details={"config": [str(exc)], **parts}) from None
    return config


@transaction.atomic
def update_pipeline(pipeline: Pipeline, *, by: Any, name: Any, business_days: bool, single_threaded_from: Any) -> Pipeline:
    _require_admin(by)
    before = snapshot(pipeline, ["name", "business_days", "single_threaded_from"])
    pipeline.name = _text(name, "name", max_length=100, required=True)
    pipeline.business_days = bool(business_days)
    pipeline.single_threaded_from = _int(single_threaded_from, "single_threaded_from", low=1, high=100, required=False)
    pipeline.save(update_fields=["name", "business_days", "single_threaded_from"])
    record_changes(pipeline, changes_since(before, pipeline), by=by)
    return pipeline


@transaction.atomic
def update_stage(stage: Stage, *, by: Any, name: Any, probability: Any, rot_days: Any, exit_question: Any,
                 goal: Any = "", guidance: Any = "") -> Stage:
    """Change what a stage asks and promises; won stays 100% and lost 0%."""
    _require_admin(by)
    before = snapshot(Stage.objects.get(pk=stage.pk), STAGE_FIELDS)
    stage.name = _text(name, "name", max_length=100, required=True)
    _refuse_taken_name(stage.pipeline_id, stage.name, but=stage.pk)
    stage.probability = _int(probability, "probability", low=0, high=100)
    if stage.kind == StageKind.WON and stage.probability != 100:
        raise ValidationFailed.for_field("probability", "a won stage has probability 100")
    if stage.kind == StageKind.LOST and stage.probability != 0:
        raise ValidationFailed.for_field("probability", "a lost stage has probability 0")
    stage.rot_days = _int(rot_days, "rot_days", low=1, high=3650, required=False)
    stage.exit_question = _text(exit_question, "exit_question", max_length=300)
    stage.goal = _text(goal, "goal", max_length=300)
    stage.guidance = _text(guidance, "guidance", max_length=5000)
    stage.save(update_fields=STAGE_FIELDS)
    record_changes(stage, changes_since(before, stage), by=by)
    return stage


STAGE_FIELDS = ["name", "probability", "rot_days", "exit_question", "goal", "guidance"]


@transaction.atomic
def move_stage(stage: Stage, direction: str, *, by: Any) -> Stage:
    """Swap an open stage with its open neighbour (up = earlier); Won and Lost stay last."""
    _require_admin(by)
    if stage.kind != StageKind.OPEN:
        raise ValidationFailed.for_field("stage", "only open stages can be reordered; Won and Lost stay last")
    keys = list(Stage.objects.filter(pipeline_id=stage.pipeline_id, kind=StageKind.OPEN).order_by("position")
                .values_list("key", flat=True))
    index = keys.index(stage.key)
    other_index = index - 1 if direction == "up" else index + 1
    if direction not in ("up", "down") or not 0 <= other_index < len(keys):
        return stage
    keys[index], keys[other_index] = keys[other_index], keys[index]
    reorder_stages(stage.pipeline, keys, by=by)
    stage.refresh_from_db(fields=["position"])
    return stage


@transaction.atomic
def reorder_stages(pipeline: Pipeline, keys: Any, *, by: Any) -> list[Stage]:
    """Put the pipeline's open stages in the order of `keys` (every open stage once, retired ones too);
    Won, Lost and post-sale stages keep their places after them. Answers the open stages in the new order.

    The positions the open stages already hold are handed out again in the new order, so nothing
    else (the "single-threaded from" position, the closed stages) moves.
    """
    _require_admin(by)
    if not isinstance(keys, (list, tuple)) or not keys:
        raise ValidationFailed.for_field("stages", "name the pipeline's open stages in their new order")
    keys = [_text(k, "stages", max_length=50) for k in keys]
    stages = list(Stage.objects.select_for_update().filter(pipeline=pipeline).order_by("position"))
    open_stages = {s.key: s for s in stages if s.kind == StageKind.OPEN}
    closed = [s.key for s in stages if s.kind != StageKind.OPEN]
    known = ", ".join(open_stages)
    for key in keys:
        if key in closed:
            raise ValidationFailed.for_field("stages", f"{key!r} is not an open stage; Won, Lost and post-sale "
                                                       f"stages stay last (open stages: {known})")
        if key not in open_stages:
            raise ValidationFailed.for_field("stages", f"{pipeline.name} has no open stage {key[:60]!r} "
                                                       f"(open stages: {known})")
    twice = sorted({k for k in keys if keys.count(k) > 1})
    if twice:
        raise ValidationFailed.for_field("stages", f"{', '.join(twice)} named more than once; name each open stage once")
    missing = [k for k in open_stages if k not in keys]
    if missing:
        raise ValidationFailed.for_field("stages", f"name every open stage once: {', '.join(missing)} missing")
    slots = sorted(s.position for s in open_stages.values())
    new_position = {open_stages[k].pk: slot for k, slot in zip(keys, slots)}
    changed = [s for s in open_stages.values() if new_position[s.pk] != s.position]
    if not changed:
        return [open_stages[k] for k in keys]
    validate_stage_order([StagePlace(s.name, s.kind, new_position.get(s.pk, s.position)) for s in stages],
                         pipeline_name=pipeline.name)
    spare = max(s.position for s in stages) + 1
    for offset, stage in enumerate(changed):  # out of the way first: positions are unique per pipeline
        Stage.objects.filter(pk=stage.pk).update(position=spare + offset)
    for stage in changed:
        before, stage.position = stage.position, new_position[stage.pk]
        Stage.objects.filter(pk=stage.pk).update(position=stage.position)
        record(stage, "moved", by=by, field="position", before=before, after=stage.position,
               note="new order: " + ", ".join(keys)[:250])
    # "Reached a later stage" depends on the order: the pipeline's state spans are rebuilt with it.
    refresh_spans(pipeline_id=pipeline.pk)
    return [open_stages[k] for k in keys]


@transaction.atomic
def add_criterion(stage: Stage, *, by: Any, phase: Any, key: Any, label: Any, kind: Any, config: Any) -> Criterion:
    _require_admin(by)
    if phase not in Phase.values:
        raise ValidationFailed.for_field("phase", f"choose one of {', '.join(Phase.values)}")
    if kind not in CriterionKind.values:
        raise ValidationFailed.for_field("kind", f"choose one of {', '.join(CriterionKind.values)}")
    key = _text(key, "key", max_length=60, required=True).lower().replace(" ", "-")
    position = (stage.criteria.filter(phase=phase).aggregate(m=Max("position"))["m"] or 0) + 1
    try:
        with transaction.atomic():
            criterion = Criterion.objects.create(stage=stage, phase=phase, key=key, kind=kind, position=position,
                                                 label=_text(label, "label", max_length=200, required=True),
                                                 config=_config(config, kind))
            record(criterion, "created", by=by, field="config", after=json.dumps(criterion.config),
                   note=f"{stage.name} {phase}")
            return criterion
    except IntegrityError:
        raise ValidationFailed.for_field("key", f"{stage.name} already has a {phase} criterion {key!r}") from None


@transaction.atomic
def update_criterion(criterion: Criterion, *, by: Any, label: Any, config: Any) -> Criterion:
    _require_admin(by)
    current = Criterion.objects.get(pk=criterion.pk)
    criterion.label = _text(label, "label", max_length=200, required=True)
    criterion.config = _config(config, criterion.kind)
    criterion.save(update_fields=["label", "config"])
    record_changes(criterion, [("label", current.label, criterion.label),
                               ("config", json.dumps(current.config), json.dumps(criterion.config))], by=by)
    return criterion


@transaction.atomic
def delete_criterion(criterion: Criterion, *, by: Any) -> None:
    _require_admin(by)
    record(criterion, "deleted", by=by, field="config", before=json.dumps(criterion.config),
           note=f"{criterion.stage.name} {criterion.phase}")
    criterion.delete()


def _refuse_taken_name(pipeline_id: int, name: str, *, but: int | None = None) -> None:
    """Two stages of one pipeline never share a name (ignoring case): moves and imports find stages by name."""
    wanted = name.casefold()
    for other in Stage.objects.filter(pipeline_id=pipeline_id).exclude(pk=but).only("name"):
        if other.name.casefold() == wanted:
            raise ValidationFailed.for_field("name", f"this pipeline already has a stage named {other.name!r}; "
                                                     "choose another name")


def _free_stage_key(pipeline_id: int, name: str) -> str:
    from django.utils.text import slugify

    base = (slugify(name)[:45].strip("-") or "stage")
    taken = set(Stage.objects.filter(pipeline_id=pipeline_id).values_list("key", flat=True))
    key, n = base, 2
    while key in taken:
        key, n = f"{base}-{n}", n + 1
    return key


@transaction.atomic
def add_stage(pipeline: Pipeline, *, by: Any, name: Any, probability: Any, after: Any = None,
              key: Any = None) -> Stage:
    """Add an open stage after the open stage `after` (a Stage, its key or id; None: after the last open stage).

    The stages after it move one place down; the new stage starts with no criteria. A pipeline's
    "single-threaded from" position keeps pointing at the same stage.
    """
    _require_admin(by)
    name = _text(name, "name", max_length=100, required=True)
    _refuse_taken_name(pipeline.pk, name)
    stages = list(Stage.objects.select_for_update().filter(pipeline=pipeline).order_by("position"))
    open_stages = [s for s in stages if s.kind == StageKind.OPEN]
    if after in (None, ""):
        anchor = open_stages[-1] if open_stages else None
    else:
        anchor = next((s for s in open_stages if str(after) in (s.key, str(s.pk))), None)
        if anchor is None:
            raise ValidationFailed.for_field("after", "choose an open stage of this pipeline to add the new stage after")
    probability = _int(probability, "probability", low=0, high=99)
    key = _text(key, "key", max_length=50).lower() if key else _free_stage_key(pipeline.pk, name)
    if any(s.key == key for s in stages):
        raise ValidationFailed.for_field("key", f"{pipeline.name} already has a stage {key!r}")
    position = (anchor.position + 1) if anchor else 1
    places = [StagePlace(s.name, s.kind, s.position + (1 if s.position >= position else 0)) for s in stages]
    validate_stage_order([*places, StagePlace(name, StageKind.OPEN, position)], pipeline_name=pipeline.name)
    for stage in reversed(stages):  # last first, so no two stages share a position on the way
        if stage.position >= position:
            Stage.objects.filter(pk=stage.pk).update(position=stage.position + 1)
    stage = Stage.objects.create(pipeline=pipeline, key=key, name=name, position=position, probability=probability)
    if pipeline.single_threaded_from and pipeline.single_threaded_from >= position:
        Pipeline.objects.filter(pk=pipeline.pk).update(single_threaded_from=pipeline.single_threaded_from + 1)
        pipeline.single_threaded_from += 1
    record(stage, "created", by=by, field="position", after=position,
           note=f"after {anchor.name}" if anchor else "first stage")
    refresh_spans(pipeline_id=pipeline.pk)
    return stage


def stage_usage(stage: Stage) -> tuple[int, int]:
    """(deals in the stage now, other deals whose history passes through it)."""
    from django.db.models import Q

    from dealgate.deals.models import Deal, StageHistory

    in_it = Deal.objects.filter(stage=stage).count()
    passed = (StageHistory.objects.filter(Q(to_stage=stage) | Q(from_stage=stage)).exclude(deal__stage=stage)
              .values("deal_id").distinct().count())
    return in_it, passed


@transaction.atomic
def remove_stage(stage: Stage, *, by: Any) -> None:
    """Remove a stage no deal has ever been in, with its criteria; refuse one with deals or history.

    A stage a deal is in or has passed through stays: its history is what the funnel, cycle time
    and forecasts are computed from, so removing it would rewrite the past (decision 030). The
    refusal says how many deals and what to do instead.
    """
    _require_admin(by)
    stage = Stage.objects.select_for_update().select_related("pipeline").get(pk=stage.pk)
    if stage.kind != StageKind.OPEN:
        raise ValidationFailed.for_field("stage", f"{stage.name} is the pipeline's {stage.get_kind_display()} stage; "
                                                  "every pipeline keeps one")
    in_it, passed = stage_usage(stage)
    if in_it or passed:
        now = f"{in_it} deal{'s' if in_it != 1 else ''} {'are' if in_it != 1 else 'is'} in it now" if in_it else ""
        past = f"{passed} deal{'s' if passed != 1 else ''} passed through it" if passed else ""
        raise ValidationFailed.for_field(
            "stage", f"{stage.name} cannot be removed: {' and '.join(p for p in (now, past) if p)}, and their history "
                     "keeps it. Retire it instead: it leaves the board and the move menus, and its history stays "
                     "(its open deals are moved on first).")
    others = Stage.objects.filter(pipeline_id=stage.pipeline_id).exclude(pk=stage.pk)
    validate_stage_order(list(others), pipeline_name=stage.pipeline.name)
    record(stage, "deleted", by=by, field="name", before=stage.name,
           note=f"position {stage.position}; {stage.criteria.count()} criteria removed with it")
    pipeline, position = stage.pipeline, stage.position
    stage.delete()
    if pipeline.single_threaded_from and pipeline.single_threaded_from > position:
        Pipeline.objects.filter(pk=pipeline.pk).update(single_threaded_from=pipeline.single_threaded_from - 1)
    for later in others.filter(position__gt=position).order_by("position"):
        Stage.objects.filter(pk=later.pk).update(position=later.position - 1)
    refresh_spans(pipeline_id=pipeline.pk)


def _open_deals_in(stage: Stage) -> list:
    from dealgate.deals.models import Deal

    return list(Deal.objects.filter(stage=stage).select_related("pipeline", "stage").order_by("pk"))


@transaction.atomic
def retire_stage(stage: Stage, *, by: Any, move_deals_to: Any = None, override_reason: Any = None) -> Stage:
    """Retire an open stage (decision 036): it leaves the board, the move menus and the new-deal choices,
    and its history, criteria and analytics stay. Restored with `restore_stage`.

    Its open deals must leave it first. `move_deals_to` (a stage, its key or id) moves them in this same
    step, each through `move_deal` as the acting admin: the gates apply, each move is in the deal's
    history with its author and surface. If any move is refused, nothing is retired or moved and the
    refusal lists the deals and what they miss; `override_reason` then forces the refused moves as
    recorded overrides (an admin may override).
    """
    from dealgate.deals.services import move_deal
    from dealgate.errors import MoveBlocked

    _require_admin(by)
    stage = Stage.objects.select_for_update().select_related("pipeline").get(pk=stage.pk)
    if stage.kind != StageKind.OPEN:
        raise ValidationFailed.for_field("stage", f"{stage.name} is the pipeline's {stage.get_kind_display()} stage; "
                                                  "only open stages can be retired")
    if stage.is_retired:
        raise ValidationFailed.for_field("stage", f"{stage.name} is already retired")
    others = [s for s in Stage.objects.filter(pipeline_id=stage.pipeline_id, kind=StageKind.OPEN,
                                              retired_at__isnull=True).exclude(pk=stage.pk).order_by("position")]
    if not others:
        raise ValidationFailed.for_field("stage", f"{stage.name} is the last open stage of {stage.pipeline.name}; "
                                                  "add another stage before retiring it")
    reason = _text(override_reason, "override_reason", max_length=500) if override_reason else ""
    deals = _open_deals_in(stage)
    target = _move_target(stage, others, move_deals_to) if move_deals_to not in (None, "") else None
    if deals and target is None:
        raise ValidationFailed.for_field(
            "move_deals_to", f"{_deals_are(len(deals))} in {stage.name}: choose the stage to move them to "
                             f"({', '.join(s.key for s in others)}), or move them on from the board first")
    refused = []
    for deal in deals:
        try:
            move_deal(deal, target, by=by, override_reason=reason or None)
        except MoveBlocked as exc:
            refused.append((deal, exc.unmet))
    if refused:
        names = "; deal ".join(f"{d.pk} {d.title[:60]}: {', '.join(u['label'] for u in unmet)[:200]}"
                          for d, unmet in refused[:5])
        more = f" and {len(refused) - 5} more" if len(refused) > 5 else ""
        sentence = (f"The stage {stage.name} was not retired and no deal moved: {len(refused)} of {len(deals)} "
                    f"open deal{'s' if len(deals) != 1 else ''} cannot move to {target.name} (deal {names}{more}). "
                    "Meet their criteria, choose another stage, or give a reason to override the gates.")
        raise ValidationFailed(sentence, details={
            "stage": [sentence], "refused": [{"deal": d.pk, "title": d.title, "unmet": unmet} for d, unmet in refused]})
    stage.retired_at = timezone.now()
    stage.save(update_fields=["retired_at"])
    moved = f"; {len(deals)} open deal{'s' if len(deals) != 1 else ''} moved to {target.name}" if deals else ""
    record(stage, "retired", by=by, field="retired_at", after=stage.retired_at.isoformat(), note=moved.lstrip("; "))
    stage.moved_deals = len(deals)
    return stage


def _deals_are(n: int) -> str:
    return f"{n} open deal{'s' if n != 1 else ''} {'are' if n != 1 else 'is'}" if n else "no open deal is"


def _move_target(stage: Stage, others: list[Stage], wanted: Any) -> Stage:
    text = str(wanted.pk if isinstance(wanted, Stage) else wanted)
    text = _text(text, "move_deals_to", max_length=50)
    found = next((s for s in others if text in (s.key, str(s.pk))), None)
    if found is None:
        raise ValidationFailed.for_field(
            "move_deals_to", f"choose an open stage of {stage.pipeline.name} other than {stage.name} that is not "
                             f"retired ({', '.join(s.key for s in others)})")
    return found


@transaction.atomic
def restore_stage(stage: Stage, *, by: Any) -> Stage:
    """Put a retired stage back on the board and in the move menus, where it was."""
    _require_admin(by)
    stage = Stage.objects.select_for_update().select_related("pipeline").get(pk=stage.pk)
    if not stage.is_retired:
        raise ValidationFailed.for_field("stage", f"{stage.name} is not retired")
    before = stage.retired_at
    stage.retired_at = None
    stage.save(update_fields=["retired_at"])
    record(stage, "restored", by=by, field="retired_at", before=before.isoformat(), after="")
    return stage
