"""Accounts, contacts, deals, activities and the append-only history of each deal.

Nothing here writes on its own: every change goes through `dealgate.deals.services`.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models

from dealgate.people.models import Team
from dealgate.pipelines.models import LostReason, Pipeline, Stage

User = settings.AUTH_USER_MODEL


class Account(models.Model):
    name = models.CharField(max_length=200)
    segment = models.CharField(max_length=50, blank=True)
    owner = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL, related_name="accounts")
    external_id = models.CharField(max_length=100, null=True, blank=True, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        indexes = [models.Index(fields=["name"])]

    def __str__(self) -> str:
        return self.name


class Contact(models.Model):
    account = models.ForeignKey(Account, null=True, blank=True, on_delete=models.SET_NULL, related_name="contacts")
    name = models.CharField(max_length=200)
    email = models.EmailField(blank=True)
    phone = models.CharField(max_length=50, blank=True)
    title = models.CharField(max_length=100, blank=True)
    external_id = models.CharField(max_length=100, null=True, blank=True, unique=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class ContactRole(models.TextChoices):
    CHAMPION = "champion", "Champion"
    ECONOMIC_BUYER = "economic_buyer", "Economic buyer"
    DECISION_MAKER = "decision_maker", "Decision maker"
    INFLUENCER = "influencer", "Influencer"
    USER = "user", "User"
    BLOCKER = "blocker", "Blocker"


class ForecastCategory(models.TextChoices):
    PIPELINE = "pipeline", "Pipeline"
    BEST_CASE = "best_case", "Best case"
    COMMIT = "commit", "Commit"
    OMITTED = "omitted", "Omitted"


class Source(models.TextChoices):
    INBOUND = "inbound", "Inbound"
    OUTBOUND = "outbound", "Outbound"
    SIGNAL = "signal", "Signal"
    REFERRAL = "referral", "Referral"
    EXISTING_ACCOUNT = "existing_account", "Existing account"


class Deal(models.Model):
    title = models.CharField(max_length=200)
    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="deals")
    owner = models.ForeignKey(User, on_delete=models.PROTECT, related_name="deals")
    team = models.ForeignKey(Team, null=True, blank=True, on_delete=models.SET_NULL, related_name="deals")
    pipeline = models.ForeignKey(Pipeline, on_delete=models.PROTECT, related_name="deals")
    stage = models.ForeignKey(Stage, on_delete=models.PROTECT, related_name="deals")
    amount = models.DecimalField(max_digits=14, decimal_places=2, null=True, blank=True)
    currency = models.CharField(max_length=3, default="EUR")
    expected_close_date = models.DateField(null=True, blank=True)
    probability_override = models.PositiveSmallIntegerField(null=True, blank=True)
    forecast_category = models.CharField(
        max_length=10, choices=ForecastCategory.choices, default=ForecastCategory.PIPELINE
    )
    source = models.CharField(max_length=20, choices=Source.choices, default=Source.OUTBOUND)
    next_step = models.CharField(max_length=300, blank=True)
    next_step_due = models.DateField(null=True, blank=True)
    created_at = models.DateTimeField()
    stage_entered_at = models.DateTimeField()
    last_activity_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    lost_reason = models.ForeignKey(LostReason, null=True, blank=True, on_delete=models.PROTECT)
    lost_note = models.CharField(max_length=300, blank=True)
    close_date_slips = models.PositiveIntegerField(
        default=0, help_text="How many times the expected close date moved later."
    )
    custom_fields = models.JSONField(default=dict, blank=True)
    external_id = models.CharField(max_length=100, null=True, blank=True, unique=True)
    version = models.PositiveIntegerField(default=1, help_text="Bumped on every write; detects stale edits.")

    contacts = models.ManyToManyField(Contact, through="DealContact", related_name="deals")

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["pipeline", "stage"]),
            models.Index(fields=["owner", "stage"]),
            models.Index(fields=["closed_at"]),
            models.Index(fields=["created_at"]),
        ]
        permissions = [("override_gate", "Can force a stage move whose criteria do not hold")]

    def __str__(self) -> str:
        return self.title

    @property
    def is_open(self) -> bool:
        return self.closed_at is None

    @property
    def effective_probability(self) -> int:
        """Won reports 100 and lost 0; otherwise the deal's override or its stage default."""
        if self.stage.kind == "won":
            return 100
        if self.stage.kind == "lost":
            return 0
        if self.probability_override is not None:
            return self.probability_override
        return self.stage.probability


class DealContact(models.Model):
    deal = models.ForeignKey(Deal, on_delete=models.CASCADE, related_name="contact_links")
    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="deal_links")
    role = models.CharField(max_length=20, choices=ContactRole.choices)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["deal", "contact", "role"], name="deal_contact_role_unique")]


class ActivityKind(models.TextChoices):
    CALL = "call", "Call"
    EMAIL = "email", "Email"
    MEETING = "meeting", "Meeting"
    NOTE = "note", "Note"
    TASK = "task", "Task"


class Activity(models.Model):
    deal = models.ForeignKey(Deal, null=True, blank=True, on_delete=models.CASCADE, related_name="activities")
    account = models.ForeignKey(Account, null=True, blank=True, on_delete=models.CASCADE, related_name="activities")
    kind = models.CharField(max_length=10, choices=ActivityKind.choices)
    subject = models.CharField(max_length=200)
    outcome = models.CharField(max_length=50, blank=True, help_text="e.g. held, replied, no_show, sent.")
    notes = models.TextField(blank=True)
    occurred_at = models.DateTimeField()
    by = models.ForeignKey(User, null=True, on_delete=models.SET_NULL, related_name="activities")
    contacts = models.ManyToManyField(Contact, blank=True, related_name="activities")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-occurred_at", "-id"]
        indexes = [models.Index(fields=["deal", "kind", "occurred_at"])]
        verbose_name_plural = "activities"

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.subject}"


class ChecklistAnswer(models.Model):
    """A ticked qualification item (BANT, MEDDPICC...) with the rep's evidence."""

    deal = models.ForeignKey(Deal, on_delete=models.CASCADE, related_name="checklist_answers")
    item = models.SlugField(max_length=60)
    checked = models.BooleanField(default=True)
    evidence = models.CharField(max_length=500, blank=True)
    by = models.ForeignKey(User, null=True, on_delete=models.SET_NULL, related_name="+")
    at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["deal", "item"], name="checklist_answer_unique")]


class Approval(models.Model):
    """A close condition (pricing approved, credit approved...) confirmed by an allowed user."""

    deal = models.ForeignKey(Deal, on_delete=models.CASCADE, related_name="approvals")
    condition = models.SlugField(max_length=60)
    approved_by = models.ForeignKey(User, null=True, on_delete=models.SET_NULL, related_name="+")
    approved_at = models.DateTimeField()
    note = models.CharField(max_length=300, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["deal", "condition"], name="approval_unique")]


class AppendOnlyQuerySet(models.QuerySet):
    """History is evidence: the product never edits or deletes it in bulk either."""

    def update(self, **kwargs):  # type: ignore[override]
        raise TypeError(f"{self.model.__name__} rows are append-only and cannot be updated.")

    def delete(self):  # type: ignore[override]
        raise TypeError(f"{self.model.__name__} rows are append-only and cannot be deleted.")


class AppendOnlyModel(models.Model):
    objects = AppendOnlyQuerySet.as_manager()

    class Meta:
        abstract = True

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise TypeError(f"{type(self).__name__} rows are append-only and cannot be changed.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise TypeError(f"{type(self).__name__} rows are append-only and cannot be deleted.")


class MoveKind(models.TextChoices):
    CREATED = "created", "Created"
    FORWARD = "forward", "Moved forward"
    BACKWARD = "backward", "Moved back"
    WON = "won", "Won"
    LOST = "lost", "Lost"
    REOPENED = "reopened", "Reopened"


class StageHistory(AppendOnlyModel):
    deal = models.ForeignKey(Deal, on_delete=models.DO_NOTHING, related_name="history", db_constraint=True)
    from_stage = models.ForeignKey(Stage, null=True, on_delete=models.PROTECT, related_name="+")
    to_stage = models.ForeignKey(Stage, on_delete=models.PROTECT, related_name="+")
    kind = models.CharField(max_length=8, choices=MoveKind.choices)
    at = models.DateTimeField()
    by = models.ForeignKey(User, null=True, on_delete=models.SET_NULL, related_name="+")
    amount = models.DecimalField(max_digits=14, decimal_places=2, null=True)
    currency = models.CharField(max_length=3)
    probability = models.PositiveSmallIntegerField()
    override = models.BooleanField(default=False)
    override_reason = models.CharField(max_length=500, blank=True)
    imported = models.BooleanField(default=False)

    class Meta:
        ordering = ["at", "id"]
        verbose_name_plural = "stage history"
        indexes = [
            models.Index(fields=["deal", "at"]),
            models.Index(fields=["to_stage", "at"]),
            models.Index(fields=["at"]),
        ]


class FieldChange(AppendOnlyModel):
    """Changes of amount, close date and owner, kept so slips and amount changes are answerable."""

    deal = models.ForeignKey(Deal, on_delete=models.DO_NOTHING, related_name="field_changes")
    field = models.CharField(max_length=30)
    old_value = models.CharField(max_length=100, blank=True)
    new_value = models.CharField(max_length=100, blank=True)
    at = models.DateTimeField()
    by = models.ForeignKey(User, null=True, on_delete=models.SET_NULL, related_name="+")

    class Meta:
        ordering = ["at", "id"]
        indexes = [models.Index(fields=["deal", "field", "at"])]
