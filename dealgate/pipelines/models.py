"""Pipelines, their stages and the criteria that gate each stage.

Criteria are data: a kind plus a JSON config validated by `dealgate.pipelines.criteria`.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models


class Pipeline(models.Model):
    key = models.SlugField(max_length=50, unique=True, help_text="Short name used by the CLI and API.")
    name = models.CharField(max_length=100)
    template = models.CharField(max_length=50, blank=True, help_text="Template it was created from.")
    business_days = models.BooleanField(
        default=False, help_text="Count idle limits (rot days) in business days instead of calendar days."
    )
    single_threaded_from = models.PositiveSmallIntegerField(
        null=True,
        blank=True,
        help_text="Flag a deal with only one contact once it reaches the stage at this position.",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class StageKind(models.TextChoices):
    """`post`: a post-sale phase (onboarding). No deal sits in it: its criteria are the checklist every
    won deal of the pipeline works through after the signature, which is the win (decision 010)."""

    OPEN = "open", "Open"
    WON = "won", "Won"
    LOST = "lost", "Lost"
    POST = "post", "Post-sale"


class Stage(models.Model):
    pipeline = models.ForeignKey(Pipeline, on_delete=models.CASCADE, related_name="stages")
    key = models.SlugField(max_length=50)
    name = models.CharField(max_length=100)
    position = models.PositiveSmallIntegerField()
    kind = models.CharField(max_length=4, choices=StageKind.choices, default=StageKind.OPEN)
    probability = models.PositiveSmallIntegerField(
        validators=[MinValueValidator(0), MaxValueValidator(100)], help_text="Default win probability, 0-100."
    )
    goal = models.CharField(max_length=300, blank=True)
    exit_question = models.CharField(
        max_length=300, blank=True, help_text="The question a rep must answer yes to before leaving the stage."
    )
    guidance = models.TextField(blank=True)
    rot_days = models.PositiveSmallIntegerField(
        null=True, blank=True, help_text="Idle limit: a deal with no activity or move for longer is stale."
    )
    retired_at = models.DateTimeField(
        null=True, blank=True,
        help_text="When the stage was retired: gone from the board and from moves, kept in history (decision 036).",
    )

    class Meta:
        ordering = ["pipeline", "position"]
        constraints = [
            models.UniqueConstraint(fields=["pipeline", "key"], name="stage_key_unique_in_pipeline"),
            models.UniqueConstraint(fields=["pipeline", "position"], name="stage_position_unique_in_pipeline"),
            models.CheckConstraint(condition=models.Q(probability__lte=100), name="stage_probability_at_most_100"),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def is_open(self) -> bool:
        return self.kind == StageKind.OPEN

    @property
    def is_retired(self) -> bool:
        return self.retired_at is not None

    @property
    def takes_deals(self) -> bool:
        """An open stage a deal can be moved to or created in: not retired (decision 036)."""
        return self.kind == StageKind.OPEN and self.retired_at is None

    @property
    def is_closed(self) -> bool:
        return self.kind != StageKind.OPEN

    @property
    def is_post_sale(self) -> bool:
        return self.kind == StageKind.POST

    def clean(self) -> None:
        if self.kind == StageKind.WON and self.probability != 100:
            raise ValidationError({"probability": "A won stage has probability 100."})
        if self.kind == StageKind.LOST and self.probability != 0:
            raise ValidationError({"probability": "A lost stage has probability 0."})


class Phase(models.TextChoices):
    ENTRY = "entry", "Entry"
    EXIT = "exit", "Exit"


class CriterionKind(models.TextChoices):
    FIELD = "field", "Field"
    CHECKLIST = "checklist", "Checklist"
    ACTIVITY = "activity", "Activity"
    CONTACT_ROLE = "contact_role", "Contact role"
    APPROVAL = "approval", "Approval"


class Criterion(models.Model):
    stage = models.ForeignKey(Stage, on_delete=models.CASCADE, related_name="criteria")
    phase = models.CharField(max_length=5, choices=Phase.choices)
    key = models.SlugField(max_length=60)
    label = models.CharField(max_length=200, help_text="What must be true, in words a rep understands.")
    kind = models.CharField(max_length=12, choices=CriterionKind.choices)
    config = models.JSONField(default=dict, blank=True)
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["stage", "phase", "position", "id"]
        verbose_name_plural = "criteria"
        constraints = [
            models.UniqueConstraint(fields=["stage", "phase", "key"], name="criterion_key_unique_in_stage_phase"),
        ]

    def __str__(self) -> str:
        return f"{self.stage}: {self.label}"

    def clean(self) -> None:
        from dealgate.pipelines.criteria import CriterionConfigError
        from dealgate.pipelines.services import validate_criterion

        try:
            validate_criterion(self.kind, self.config)
        except CriterionConfigError as exc:
            raise ValidationError({"config": str(exc)}) from None


class LostReason(models.Model):
    key = models.SlugField(max_length=50, unique=True)
    label = models.CharField(max_length=100)
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["label"]

    def __str__(self) -> str:
        return self.label


class CustomField(models.Model):
    """A deal field an admin added. Criteria refer to it as `custom.<key>`."""

    class Type(models.TextChoices):
        TEXT = "text", "Text"
        NUMBER = "number", "Number"
        DATE = "date", "Date"
        BOOLEAN = "boolean", "Yes/no"

    key = models.SlugField(max_length=50, unique=True)
    label = models.CharField(max_length=100)
    type = models.CharField(max_length=7, choices=Type.choices, default=Type.TEXT)

    def __str__(self) -> str:
        return self.label


class RulesVersion(models.Model):
    """A random number that changes whenever anything a pipeline's move rules are built from changes.

    Written only by database triggers (migration 0002), never by Django: every write path (services,
    the admin, imports, `QuerySet.update`, raw SQL) then changes it, in the same transaction as the
    change. `PipelineRules.load` keys its per-process cache on it. Random, not a counter, so a
    value seen inside a transaction that rolled back never comes back with other rules behind it.
    See docs/decisions/008-cached-pipeline-rules.md.
    """

    pipeline = models.OneToOneField(Pipeline, on_delete=models.CASCADE, primary_key=True, related_name="rules_version")
    version = models.BigIntegerField()

    def __str__(self) -> str:
        return f"{self.pipeline_id}: {self.version}"
