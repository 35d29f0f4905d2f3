"""Which criteria a stage move must satisfy (domain.md section 2).

- forward to a later open stage: exit criteria of the current stage and of every stage skipped,
  plus the entry criteria of the target;
- backward: nothing;
- to Lost: nothing here (the service asks for a lost reason);
- to Won: the won stage's entry criteria.
"""

from __future__ import annotations

from dataclasses import dataclass

from dealgate.pipelines.criteria import CriterionSpec
from dealgate.pipelines.models import Criterion, Stage, StageKind


@dataclass(frozen=True)
class PipelineRules:
    """A pipeline's stages and criteria, loaded in two queries and reused for many deals."""

    stages: dict[int, Stage]
    entry: dict[int, list[CriterionSpec]]
    exit: dict[int, list[CriterionSpec]]

    @classmethod
    def load(cls, pipeline_id: int) -> "PipelineRules":
        stages = {s.id: s for s in Stage.objects.filter(pipeline_id=pipeline_id).order_by("position")}
        entry: dict[int, list[CriterionSpec]] = {sid: [] for sid in stages}
        exit_: dict[int, list[CriterionSpec]] = {sid: [] for sid in stages}
        rows = Criterion.objects.filter(stage__pipeline_id=pipeline_id).order_by("position", "id")
        for row in rows:
            spec = CriterionSpec.from_row(row, stages[row.stage_id].name)
            (entry if row.phase == "entry" else exit_)[row.stage_id].append(spec)
        return cls(stages, entry, exit_)

    def direction(self, from_stage: Stage, to_stage: Stage) -> str:
        if to_stage.kind == StageKind.WON:
            return "won"
        if to_stage.kind == StageKind.LOST:
            return "lost"
        if from_stage.kind != StageKind.OPEN:
            return "reopened"
        return "forward" if to_stage.position > from_stage.position else "backward"

    def required(self, from_stage: Stage, to_stage: Stage) -> list[CriterionSpec]:
        kind = self.direction(from_stage, to_stage)
        if kind == "won":
            return list(self.entry[to_stage.id])
        if kind != "forward":
            return []
        specs: list[CriterionSpec] = []
        for stage in self.stages.values():
            if stage.kind == StageKind.OPEN and from_stage.position <= stage.position < to_stage.position:
                specs.extend(self.exit[stage.id])
        specs.extend(self.entry[to_stage.id])
        return specs

    def next_open_stage(self, stage: Stage) -> Stage | None:
        later = [s for s in self.stages.values() if s.kind == StageKind.OPEN and s.position > stage.position]
        return later[0] if later else None
