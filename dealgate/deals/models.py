"""Accounts, contacts, deals, activities and the append-only history of each deal.

Nothing here writes on its own: every change goes through `dealgate.deals.services`.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models.functions import Coalesce, Greatest

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


# What `flags.with_date_flags` reads besides the board's columns; kept in the board index.
# When a deal last showed life: the later of entering its stage and its last activity. The idle
# scan (dealgate.automation.scans) asks for open deals by this, off the partial index below.
def quiet_since() -> Greatest:
    return Greatest("stage_entered_at", Coalesce("last_activity_at", "stage_entered_at"))


BOARD_FLAG_COLUMNS = ["next_step_due", "close_date_slips", "stage_entered_at", "last_activity_at", "next_step"]


class Deal(models.Model):
    title = models.CharField(max_length=200)
    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="deals")
    owner = models.ForeignKey(User, on_delete=models.PROTECT, related_name="deals", db_index=False)
    team = models.ForeignKey(Team, null=True, blank=True, on_delete=models.SET_NULL, related_name="deals")
    pipeline = models.ForeignKey(Pipeline, on_delete=models.PROTECT, related_name="deals", db_index=False)
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
        # A foreign key that leads one of these (or a unique constraint) has db_index=False: the
        # composite index serves lookups by that column alone, and each extra index is upkeep on
        # every bulk insert (migration 0002).
        indexes = [
            models.Index(fields=["pipeline", "stage"]),
            models.Index(fields=["owner", "stage"]),
            models.Index(fields=["created_at"]),
            # The board: each column's cards in card order (close date, newest first) straight off
            # the index, and the columns after `id` make the header sums and the team filter
            # index-only reads (migration 0003); so do the date-flag columns for "flagged only"
            # (`flags.with_date_flags`, migration 0005).
            models.Index(fields=["pipeline", "stage", "expected_close_date", "-id", "amount", "currency",
                                 "probability_override", "owner", "team", *BOARD_FLAG_COLUMNS],
                         name="deal_board_idx"),
            # The worker's scans read open deals only, by the date that crosses their threshold
            # (idle since, expected close date): small indexes, whatever the closed history's size.
            # The second term of each condition is one only the scans' queries imply, so no other
            # query on open deals is planned on them (SQLite read the deal list's 50 newest open
            # deals off the close-date index, then sorted: 1.1 s at 1,000,000 deals).
            models.Index(quiet_since(), condition=models.Q(closed_at__isnull=True, stage_entered_at__isnull=False),
                         name="deal_open_quiet_idx"),
            models.Index(fields=["expected_close_date"],
                         condition=models.Q(closed_at__isnull=True, expected_close_date__isnull=False),
                         name="deal_open_close_date_idx"),
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
    deal = models.ForeignKey(Deal, on_delete=models.CASCADE, related_name="contact_links", db_index=False)
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
    deal = models.ForeignKey(Deal, null=True, blank=True, on_delete=models.CASCADE, related_name="activities",
                             db_index=False)
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

    deal = models.ForeignKey(Deal, on_delete=models.CASCADE, related_name="checklist_answers", db_index=False)
    item = models.SlugField(max_length=60)
    checked = models.BooleanField(default=True)
    evidence = models.CharField(max_length=500, blank=True)
    by = models.ForeignKey(User, null=True, on_delete=models.SET_NULL, related_name="+")
    at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["deal", "item"], name="checklist_answer_unique")]


class Approval(models.Model):
    """A close condition (pricing approved, credit approved...) confirmed by an allowed user."""

    deal = models.ForeignKey(Deal, on_delete=models.CASCADE, related_name="approvals", db_index=False)
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

    def bulk_create(self, objs, *args, **kwargs):
        created = super().bulk_create(objs, *args, **kwargs)
        feeding = [row for row in created if row.feeds_spans()]
        if feeding:
            from dealgate.deals.timeline import refresh_spans

            refresh_spans({row.deal_id for row in feeding}, changed_from=min(row.at for row in feeding))
        return created


class AppendOnlyModel(models.Model):
    objects = AppendOnlyQuerySet.as_manager()
    # New rows change the deal's state spans (StateSpan), which are brought up to date right after
    # the insert (a live move: its span appended; anything else: the deal's spans rebuilt).
    feeds_state_spans = False

    class Meta:
        abstract = True

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise TypeError(f"{type(self).__name__} rows are append-only and cannot be changed.")
        super().save(*args, **kwargs)
        if self.feeds_spans():
            from dealgate.deals.timeline import append_spans

            append_spans(self)

    def delete(self, *args, **kwargs):
        raise TypeError(f"{type(self).__name__} rows are append-only and cannot be deleted.")

    def feeds_spans(self) -> bool:
        """Whether this new row changes its deal's state spans."""
        return self.feeds_state_spans


class MoveKind(models.TextChoices):
    CREATED = "created", "Created"
    FORWARD = "forward", "Moved forward"
    BACKWARD = "backward", "Moved back"
    WON = "won", "Won"
    LOST = "lost", "Lost"
    REOPENED = "reopened", "Reopened"


class StageHistory(AppendOnlyModel):
    feeds_state_spans = True
    deal = models.ForeignKey(Deal, on_delete=models.DO_NOTHING, related_name="history", db_constraint=True,
                             db_index=False)
    from_stage = models.ForeignKey(Stage, null=True, on_delete=models.PROTECT, related_name="+")
    to_stage = models.ForeignKey(Stage, on_delete=models.PROTECT, related_name="+", db_index=False)
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

    feeds_state_spans = True

    deal = models.ForeignKey(Deal, on_delete=models.DO_NOTHING, related_name="field_changes", db_index=False)
    field = models.CharField(max_length=30)
    old_value = models.CharField(max_length=100, blank=True)
    new_value = models.CharField(max_length=100, blank=True)
    at = models.DateTimeField()
    by = models.ForeignKey(User, null=True, on_delete=models.SET_NULL, related_name="+")

    class Meta:
        ordering = ["at", "id"]
        indexes = [models.Index(fields=["deal", "field", "at"])]

    def feeds_spans(self) -> bool:
        from dealgate.deals.timeline import CHANGES

        return self.field in CHANGES


class StateSpan(models.Model):
    """One stretch of time in which a deal's analytic state did not change: a projection of its
    StageHistory and FieldChange rows, rebuilt by `dealgate.deals.timeline` whenever either gets a row.

    Analytics reads these instead of replaying the history on every request (docs/decisions/
    007-state-spans-for-analytics.md). Nothing else writes them, and `dealgate spans --rebuild`
    recreates them from the history alone, so they are never the only record of anything.

    A span starts at an event (a stage row or a tracked field change) and lasts until the deal's
    next event; `prev_*` hold the state just before the event, so one row classifies its event.
    """

    # No index of its own: (deal, starts_at) below serves every lookup by deal.
    deal = models.ForeignKey(Deal, on_delete=models.DO_NOTHING, db_constraint=False, db_index=False, related_name="+")
    pipeline_id = models.BigIntegerField()
    created_at = models.DateTimeField(help_text="The deal's creation, for cycle length.")
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField(help_text="The deal's next event; FOREVER for the current span.")
    history_id = models.BigIntegerField(null=True, help_text="The stage row that began this span, if any.")
    move_kind = models.CharField(max_length=8, blank=True)
    stage_id = models.BigIntegerField()
    stage_kind = models.CharField(max_length=4)
    stage_position = models.PositiveSmallIntegerField()
    stage_entered_at = models.DateTimeField()
    next_move_at = models.DateTimeField(null=True, help_text="The deal's next stage row after this span began.")
    next_advance_at = models.DateTimeField(
        null=True, help_text="Move spans into an open stage: when the deal next reached a later stage or won.")
    probability = models.PositiveSmallIntegerField()
    amount_cents = models.BigIntegerField(null=True)
    currency = models.CharField(max_length=3)
    close_date = models.DateField(null=True)
    forecast_category = models.CharField(max_length=10, blank=True)
    owner_id = models.BigIntegerField(null=True)
    team_id = models.BigIntegerField(null=True)
    prev_stage_id = models.BigIntegerField(null=True)
    prev_stage_kind = models.CharField(max_length=4, blank=True, help_text="Empty for a deal's first span.")
    prev_stage_entered_at = models.DateTimeField(null=True)
    prev_amount_cents = models.BigIntegerField(null=True)
    prev_currency = models.CharField(max_length=3, blank=True)
    prev_owner_id = models.BigIntegerField(null=True)
    prev_team_id = models.BigIntegerField(null=True)
    # The deal's next win, loss and reopening after this span began: its outcome as of any later
    # instant without looking up its state then (a reopening before that instant needs the lookup).
    next_won_at = models.DateTimeField(null=True)
    next_lost_at = models.DateTimeField(null=True)
    next_reopen_at = models.DateTimeField(null=True)
    # Move spans: when the deal last entered this same stage before (null the first time), so "the
    # first entry into a stage within a window" is a test on one row, not a grouping of all entries.
    prev_entry_at = models.DateTimeField(null=True)

    class Meta:
        # Analytics reads a pipeline's spans by time range or by the instant they hold; at a million
        # deals the rows those figures need are a quarter of the table's width. Each index below
        # carries the columns of one family of figures after its key, so they are answered from the
        # index alone (PostgreSQL: index-only scans; SQLite: covering indexes), in key order.
        # docs/decisions/009-covering-indexes-for-analytics.md says which figure reads which.
        indexes = [
            models.Index(fields=["deal", "starts_at"]),
            models.Index(fields=["pipeline_id", "stage_kind", "stage_entered_at"]),
            # Events in a window (waterfall): every span, with the state before and after it.
            models.Index(fields=["pipeline_id", "starts_at", "history_id", "stage_kind", "prev_stage_kind",
                                 "amount_cents", "prev_amount_cents", "currency", "prev_currency", "owner_id",
                                 "prev_owner_id", "team_id", "prev_team_id"], name="span_events"),
            # The state at an instant (pipeline, open deals, outcomes): starts_at < T <= ends_at.
            models.Index(fields=["pipeline_id", "stage_kind", "ends_at", "starts_at", "stage_id", "currency",
                                 "amount_cents", "probability", "stage_entered_at", "close_date",
                                 "forecast_category", "owner_id", "team_id", "created_at"], name="span_states"),
            # Entries into open stages (conversion, learned probabilities, timing table).
            models.Index(fields=["pipeline_id", "starts_at", "stage_id", "currency", "owner_id", "team_id", "deal",
                                 "next_advance_at", "next_move_at", "next_won_at", "next_lost_at", "next_reopen_at",
                                 "prev_entry_at"], name="span_entries",
                         condition=models.Q(history_id__isnull=False, stage_kind="open")),
            # Finished stays in open stages (time in stage): the move that ended each.
            models.Index(fields=["pipeline_id", "starts_at", "prev_stage_id", "prev_stage_entered_at", "currency",
                                 "owner_id", "team_id"], name="span_stays",
                         condition=models.Q(history_id__isnull=False, prev_stage_kind="open")),
            # The rare spans whose deal was later reopened (their outcome needs a lookup).
            models.Index(fields=["pipeline_id", "starts_at"], name="span_reopened",
                         condition=models.Q(next_reopen_at__isnull=False)),
            # Each deal's creation (the forecast's new deals, decision 049): one entry per deal.
            models.Index(fields=["pipeline_id", "created_at", "currency", "owner_id", "team_id", "deal",
                                 "next_won_at"], name="span_born",
                         condition=models.Q(history_id__isnull=False, prev_stage_id__isnull=True)),
        ]


class SpanRewrite(models.Model):
    """A note that spans were rebuilt for events older than a few minutes (an import, a backfill,
    the demo generator). Figures cached for a past cutoff stay valid until a note says that
    something before that cutoff changed (dealgate.analytics.cache). Live writes leave no note:
    their events are at "now", after every cutoff a cached figure can have."""

    changed_from = models.DateTimeField(null=True, help_text="Earliest event rewritten; empty: unknown, so all.")
    written_at = models.DateTimeField(auto_now_add=True)
