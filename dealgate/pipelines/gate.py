"""Which criteria a stage move must satisfy (domain.md section 2).

- forward to a later open stage: exit criteria of the current stage and of every stage skipped,
  plus the entry criteria of the target;
- backward: nothing;
- reopening a closed deal: nothing up to the stage it closed from; past it, as moving forward from there;
- to Lost: nothing here (the service asks for a lost reason);
- to Won: what a forward move through every open stage still ahead needs (the exit criteria of
  the current stage, the entry and exit criteria of every later open stage), plus the won stage's
  entry criteria. Winning is the last step forward, so it is no shortcut past the gates
  (decision 006). A closed deal won again starts from the stage it closed from.

A retired stage (decision 036) takes no deals, so no path passes through it: its criteria are asked
only of a deal leaving it (one reopened from it).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db import connection

from dealgate.pipelines.criteria import CriterionConfigError, CriterionSpec
from dealgate.pipelines.models import Criterion, RulesVersion, Stage, StageKind

# pipeline id -> (rules version, rules): this process's last rules of each pipeline.
_cache: dict[int, tuple[int, "PipelineRules"]] = {}
_VERSION_SQL = (f"SELECT version FROM {RulesVersion._meta.db_table} "
                f"WHERE {RulesVersion._meta.pk.column} = %s")


_UNREAD = object()


def rules_version(pipeline_id: int) -> int | None:
    """The pipeline's current rules version (None if it has no row, e.g. no such pipeline).

    Plain SQL: this runs on every move, and the ORM's query building would cost a third of it.
    """
    with connection.cursor() as cursor:
        cursor.execute(_VERSION_SQL, [pipeline_id])
        row = cursor.fetchone()
    return row[0] if row else None


@dataclass(frozen=True)
class PipelineRules:
    """A pipeline's stages and criteria, loaded in one query and reused for many deals.

    Shared between callers through the cache: treat the stages and specs as read-only.
    """

    stages: dict[int, Stage]
    entry: dict[int, list[CriterionSpec]]
    exit: dict[int, list[CriterionSpec]]

    @classmethod
    def load(cls, pipeline_id: int, version: Any = _UNREAD) -> "PipelineRules":
        """The pipeline's rules as they are now: from this process's cache when its version is current.

        Checking the version is one primary-key read; building the rules is a join plus parsing
        every criterion's config. The version is read first and the rules after it, so a cached
        entry is never older than the version it is filed under (decision 008). `version`: the
        version as the caller has just read it (a move reads it in the query that locks the deal).
        """
        if version is _UNREAD:
            version = rules_version(pipeline_id)
        cached = _cache.get(pipeline_id)
        if cached is not None and version is not None and cached[0] == version:
            return cached[1]
        rules = cls.load_uncached(pipeline_id)
        if version is not None:
            _cache[pipeline_id] = (version, rules)
        return rules

    @classmethod
    def load_uncached(cls, pipeline_id: int) -> "PipelineRules":
        # One LEFT JOIN of stages to their criteria: each round trip to PostgreSQL costs about a
        # millisecond.
        stage_fields = [f.attname for f in Stage._meta.concrete_fields]
        criterion_fields = [f.attname for f in Criterion._meta.concrete_fields]
        joined = (
            Stage.objects.filter(pipeline_id=pipeline_id)
            .order_by("position", "criteria__position", "criteria__id")
            .values_list(*stage_fields, *(f"criteria__{name}" for name in criterion_fields))
        )
        stages: dict[int, Stage] = {}
        rows: list[Criterion] = []
        width = len(stage_fields)
        for values in joined:
            stage_values, criterion_values = values[:width], values[width:]
            if stage_values[0] not in stages:
                stages[stage_values[0]] = Stage.from_db("default", stage_fields, stage_values)
            if criterion_values[0] is not None:
                rows.append(Criterion.from_db("default", criterion_fields, criterion_values))
        entry: dict[int, list[CriterionSpec]] = {sid: [] for sid in stages}
        exit_: dict[int, list[CriterionSpec]] = {sid: [] for sid in stages}
        rows.sort(key=lambda row: (row.position, row.id))
        for row in rows:
            stage = stages[row.stage_id]
            try:
                spec = CriterionSpec.from_row(row, stage.name)
            except CriterionConfigError as exc:
                # A broken row must say where it is, or no one can find and fix it.
                raise CriterionConfigError(f"stage {stage.name!r}, {row.phase} criterion {row.key!r}: {exc}") from None
            (entry if row.phase == "entry" else exit_)[row.stage_id].append(spec)
        return cls(stages, entry, exit_)

    def direction(self, from_stage: Stage, to_stage: Stage) -> str:
        if to_stage.kind == StageKind.WON:
            return "won"
        if to_stage.kind == StageKind.LOST:
            return "lost"
        if to_stage.kind == StageKind.POST:
            return "post_sale"  # no move goes there: `move_deal` refuses it, nothing is required
        if from_stage.kind != StageKind.OPEN:
            return "reopened"
        return "forward" if to_stage.position > from_stage.position else "backward"

    def required(
        self, from_stage: Stage, to_stage: Stage, *, reopened_from: Stage | None = None
    ) -> list[CriterionSpec]:
        """The criteria a move must meet. `reopened_from`: the open stage a closed deal left when it closed.

        Reopening to that stage or an earlier one is free, like moving back; reopening further on
        needs what moving forward from there would, so Lost -> reopen is no way around the gates.
        """
        if from_stage.id not in self.stages or to_stage.id not in self.stages:
            raise ValueError(f"{from_stage.name!r} and {to_stage.name!r} are not both stages of this pipeline")
        kind = self.direction(from_stage, to_stage)
        if kind == "won":
            return self._path_to_won(from_stage, reopened_from) + list(self.entry[to_stage.id])
        if kind == "reopened" and reopened_from is not None and reopened_from.kind == StageKind.OPEN:
            return self.required(reopened_from, to_stage) if to_stage.id != reopened_from.id else []
        if kind != "forward":
            return []
        return self._path(from_stage, to_stage.position) + list(self.entry[to_stage.id])

    def _path(self, from_stage: Stage, before_position: int) -> list[CriterionSpec]:
        """Exit criteria of `from_stage`, entry and exit criteria of every open stage after it and before
        `before_position`. Skipping a stage does not skip its criteria: a stage passed over must be
        entered and left as if the deal had stopped there."""
        specs: list[CriterionSpec] = []
        for stage in self.stages.values():
            if stage.kind != StageKind.OPEN or not from_stage.position <= stage.position < before_position:
                continue
            if stage.is_retired and stage.id != from_stage.id:
                continue  # no deal can stop in a retired stage, so none is asked to pass it (decision 036)
            if stage.position > from_stage.position:
                specs.extend(self.entry[stage.id])
            specs.extend(self.exit[stage.id])
        return specs

    def _path_to_won(self, from_stage: Stage, reopened_from: Stage | None) -> list[CriterionSpec]:
        """What winning from `from_stage` passes: every open stage from there on, entered and left.

        A closed deal (Lost -> Won) starts from the open stage it closed from; one with no such stage
        (e.g. imported closed) from before the first open stage, so it meets every open stage's gates.
        """
        if from_stage.kind != StageKind.OPEN:
            from_stage = reopened_from if reopened_from is not None and reopened_from.kind == StageKind.OPEN else None
        open_stages = [s for s in self.stages.values() if s.takes_deals]
        if not open_stages:
            return []
        end = max(s.position for s in open_stages) + 1
        if from_stage is None:
            first = open_stages[0]
            return list(self.entry[first.id]) + self._path(first, end)
        # The stage a deal closed from may have been retired since, and may lie past every stage
        # still in use: its exit criteria are asked all the same, as for a retired stage in between.
        return self._path(from_stage, max(end, from_stage.position + 1))

    def post_sale_phases(self) -> list[tuple[Stage, str, list[CriterionSpec]]]:
        """What a won deal works through after the signature (decision 010), as (stage, title, criteria):
        the handoff record (the Won stage's checklist items, met at the win unless overridden), then
        each post-sale stage's criteria in order."""
        phases = []
        won = next((s for s in self.stages.values() if s.kind == StageKind.WON), None)
        handoff = [spec for spec in self.entry[won.id] if spec.kind == "checklist"] if won is not None else []
        if handoff:
            phases.append((won, "Handoff record", handoff))
        for stage in self.stages.values():
            if stage.kind == StageKind.POST:
                phases.append((stage, stage.name, [*self.entry[stage.id], *self.exit[stage.id]]))
        return phases

    def next_open_stage(self, stage: Stage) -> Stage | None:
        later = [s for s in self.stages.values() if s.takes_deals and s.position > stage.position]
        return later[0] if later else None

    def next_move(self, stage: Stage) -> tuple[Stage | None, list[CriterionSpec]]:
        """The step a deal in `stage` takes next and what it needs (decision 029): the next open stage, or
        Won from the last one, with the criteria `required` asks for that move (this stage's exit criteria
        plus the next stage's entry criteria). The one count the card, the refusal panel and the deal
        page show. A closed stage has no next move: its own exit criteria (usually none)."""
        target = None
        if stage.kind == StageKind.OPEN:
            target = self.next_open_stage(stage) or next(
                (s for s in self.stages.values() if s.kind == StageKind.WON), None)
        if target is None:
            return None, list(self.exit.get(stage.id, []))
        return target, self.required(stage, target)
