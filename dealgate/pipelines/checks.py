"""`dealgate check` for pipelines: stages in a valid order, and every stored criterion one the engine
can evaluate.

Criteria are edited as JSON in the admin or written by imports; a config that slipped past
validation would make every move through that stage fail, so we say which one, where, at startup.
A stage order edited by raw SQL or a half-built pipeline (an open stage after Won, no Lost stage)
would make "forward" and "skipped" mean nothing; the same check the admin and settings use says so.
"""

from __future__ import annotations

from typing import Any

from django.core.checks import Error, Tags, Warning, register
from django.db import DatabaseError

from dealgate.pipelines.criteria import CriterionConfigError

FIX_IN_ADMIN = "Fix it in the admin (Pipelines > Pipelines > {key}), or in Settings > Pipelines."


@register(Tags.models, "pipelines")
def check_criteria(app_configs: Any = None, databases: Any = None, **kwargs: Any) -> list[Error]:
    from dealgate.pipelines.models import Criterion
    from dealgate.pipelines.services import validate_criterion

    errors: list[Error] = []
    rows = Criterion.objects.select_related("stage__pipeline").order_by("stage__pipeline__key", "stage__position",
                                                                         "phase", "position", "id")
    try:
        criteria = list(rows)
    except DatabaseError:
        return []  # tables not migrated yet: `migrate` comes first and has its own messages
    for criterion in criteria:
        try:
            validate_criterion(criterion.kind, criterion.config)
        except CriterionConfigError as exc:
            stage = criterion.stage
            errors.append(Error(
                f"Pipeline {stage.pipeline.key!r}, stage {stage.name!r}, {criterion.phase} criterion "
                f"{criterion.label!r} (key {criterion.key!r}): {exc}",
                hint="Fix the criterion's config in the admin (Pipelines > Stages), or delete it.",
                obj=criterion,
                id="dealgate.pipelines.E001",
            ))
    return errors


@register(Tags.models, "pipelines")
def check_stage_order(app_configs: Any = None, databases: Any = None, **kwargs: Any) -> list[Warning]:
    """A warning, not an error: Django runs checks before `serve` and every command, and a pipeline
    whose order is broken must not stop the server whose admin is where it gets fixed. Moves still
    hold (the gate only walks open stages); `dealgate check --fail-level WARNING` fails CI on it."""
    from dealgate.pipelines.models import Pipeline
    from dealgate.pipelines.services import stage_order_problems

    try:
        pipelines = list(Pipeline.objects.prefetch_related("stages").order_by("key"))
    except DatabaseError:
        return []  # tables not migrated yet: `migrate` comes first and has its own messages
    warnings: list[Warning] = []
    for pipeline in pipelines:
        for problem in stage_order_problems(pipeline.stages.all()):
            warnings.append(Warning(
                f"Pipeline {pipeline.key!r}: stage order: {problem}.",
                hint=FIX_IN_ADMIN.format(key=pipeline.name),
                obj=pipeline,
                id="dealgate.pipelines.W002",
            ))
    return warnings
