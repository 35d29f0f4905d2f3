"""The one write analytics offers: adopting a learned stage probability (audited, reversible)."""

from __future__ import annotations

from typing import Any

from django.db import transaction

from dealgate.analytics.models import ProbabilityAdoption
from dealgate.audit.services import record
from dealgate.errors import NotAllowed, ValidationFailed
from dealgate.people.access import role_of
from dealgate.pipelines.models import Stage


@transaction.atomic
def adopt_probability(stage: Stage, probability: int, *, by: Any, sample_closed: int = 0, sample_won: int = 0,
                      reverts: ProbabilityAdoption | None = None) -> ProbabilityAdoption:
    """Write `probability` into an open stage's default and keep the old value in an audit row."""
    if by is not None and role_of(by) != "admin":
        raise NotAllowed("Only an admin may change a stage's probability.")
    if not 0 <= int(probability) <= 100:
        raise ValidationFailed.for_field("probability", "must be between 0 and 100")
    locked = Stage.objects.select_for_update().get(pk=stage.pk)
    if locked.kind != "open":
        raise ValidationFailed.for_field("stage", f"{locked.name} is a closed stage; its probability is fixed")
    audit = ProbabilityAdoption.objects.create(
        stage=locked, old_probability=locked.probability, new_probability=int(probability),
        sample_closed=sample_closed, sample_won=sample_won, reverts=reverts, by=by,
    )
    record(locked, "changed", by=by, field="probability", before=locked.probability, after=int(probability),
           note="reverted an adoption" if reverts else "adopted the learned probability")
    locked.probability = int(probability)
    locked.save(update_fields=["probability"])
    stage.probability = locked.probability
    return audit


def revert_adoption(adoption: ProbabilityAdoption, *, by: Any) -> ProbabilityAdoption:
    """Put the stage back to the value it had before `adoption` (itself recorded)."""
    return adopt_probability(adoption.stage, adoption.old_probability, by=by, reverts=adoption)
