"""Tasks, automation rules, their runs, and in-app notifications.

Nothing here writes on its own: every change goes through `dealgate.automation.services`
(tasks, rules, notifications) or the engine (`dealgate.automation.engine`, rule runs).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from dealgate.deals.models import Account, Deal
from dealgate.pipelines.models import Pipeline

User = settings.AUTH_USER_MODEL


class Trigger(models.TextChoices):
    DEAL_CREATED = "deal_created", "Deal created"
    DEAL_ASSIGNED = "deal_assigned", "Deal assigned to a new owner"
    STAGE_ENTERED = "stage_entered", "Deal entered a stage"
    DEAL_WON = "deal_won", "Deal won"
    DEAL_LOST = "deal_lost", "Deal lost"
    # Found by the periodic scans (dealgate.automation.scans), not by a write:
    DEAL_IDLE = "deal_idle", "Deal idle (no move or activity)"
    CLOSE_DATE_PASSED = "close_date_passed", "Expected close date passed"
    TASK_OVERDUE = "task_overdue", "A task on the deal is overdue"
    # Raised by the signal scan (dealgate.signals.services.scan_signals); acts on the signal's account:
    SIGNAL_RAISED = "signal_raised", "Signal raised on an account"


SCAN_TRIGGERS = (Trigger.DEAL_IDLE, Trigger.CLOSE_DATE_PASSED, Trigger.TASK_OVERDUE)


class Rule(models.Model):
    """Trigger + conditions + actions, stored as data (validated by `dealgate.automation.rules`)."""

    name = models.CharField(max_length=200)
    enabled = models.BooleanField(default=True)
    trigger = models.CharField(max_length=30, choices=Trigger.choices)
    trigger_stage = models.CharField(max_length=60, blank=True,
                                     help_text="Stage key for 'entered a stage' (in the rule's pipeline).")
    idle_days = models.PositiveSmallIntegerField(
        null=True, blank=True, help_text="For 'deal idle': days without a move or activity; empty means the stage's idle limit.")
    pipeline = models.ForeignKey(Pipeline, null=True, blank=True, on_delete=models.CASCADE, related_name="rules",
                                 help_text="Only deals of this pipeline; empty means every pipeline.")
    conditions = models.JSONField(default=dict, blank=True)
    actions = models.JSONField(default=list)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    # Scan rules (dealgate.automation.scans): the clock of the last finished scan, and of the last
    # full one; the next scan looks only at what crossed its threshold since. Cleared by an edit.
    scanned_until = models.DateTimeField(null=True, blank=True, editable=False)
    swept_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["name", "id"]
        indexes = [models.Index(fields=["trigger", "enabled"])]

    def __str__(self) -> str:
        return self.name


class RunOutcome(models.TextChoices):
    DONE = "done", "Done"
    FAILED = "failed", "Failed"


class RuleRun(models.Model):
    """One rule acting on one deal (or, for "signal raised", one signal) for one occurrence of its trigger.

    `occurrence` names the event (e.g. the stage-history row of the move); the unique constraint
    is the claim: a second worker, or the same job run twice, cannot insert the row again, so the
    rule's actions run exactly once per occurrence. The row commits together with the actions'
    writes, so a worker killed mid-run leaves neither behind and the job can run again. A signal
    run's claim is (rule, signal): a rule acts once per signal.
    """

    rule = models.ForeignKey(Rule, on_delete=models.CASCADE, related_name="runs")
    deal = models.ForeignKey(Deal, null=True, blank=True, on_delete=models.CASCADE, related_name="rule_runs")
    signal = models.ForeignKey("signals.Signal", null=True, blank=True, on_delete=models.CASCADE,
                               related_name="rule_runs", help_text="For 'signal raised': the signal acted on.")
    trigger = models.CharField(max_length=30, choices=Trigger.choices)
    occurrence = models.CharField(max_length=100)
    at = models.DateTimeField()
    outcome = models.CharField(max_length=10, choices=RunOutcome.choices)
    actions = models.JSONField(default=list, help_text="What each action did, in words.")
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["rule", "deal", "trigger", "occurrence"], name="rule_run_once_per_occurrence"),
            # A NULL deal makes the constraint above never match: a signal run's claim is its own.
            models.UniqueConstraint(fields=["rule", "signal"], condition=Q(signal__isnull=False),
                                    name="rule_run_once_per_signal"),
            models.CheckConstraint(condition=Q(deal__isnull=False) | Q(signal__isnull=False),
                                   name="rule_run_on_deal_or_signal"),
        ]
        indexes = [models.Index(fields=["deal", "at"])]


class Task(models.Model):
    """Something a person must do, on a deal (or an account), by a date."""

    title = models.CharField(max_length=200)
    deal = models.ForeignKey(Deal, null=True, blank=True, on_delete=models.CASCADE, related_name="tasks")
    account = models.ForeignKey(Account, null=True, blank=True, on_delete=models.CASCADE, related_name="tasks")
    assignee = models.ForeignKey(User, on_delete=models.PROTECT, related_name="tasks")
    due = models.DateField()
    done = models.BooleanField(default=False)
    done_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField()
    created_by = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    source_rule = models.ForeignKey(Rule, null=True, blank=True, on_delete=models.SET_NULL, related_name="tasks")

    class Meta:
        ordering = ["done", "due", "id"]
        indexes = [
            models.Index(fields=["deal", "done", "due"]),
            models.Index(fields=["assignee", "done", "due"]),
            models.Index(fields=["due"], condition=models.Q(done=False), name="task_open_due_idx"),  # overdue scan
        ]
        constraints = [models.CheckConstraint(condition=Q(deal__isnull=False) | Q(account__isnull=False),
                                              name="task_on_deal_or_account")]

    def __str__(self) -> str:
        return self.title


class NotificationKind(models.TextChoices):
    ASSIGNED = "assigned", "A deal was assigned to me"
    TASK = "task", "A task was given to me"
    ALERT = "alert", "Alerts from automation rules"
    REVIEW = "review", "The weekly pipeline review (managers)"


class Notification(models.Model):
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="notifications")
    kind = models.CharField(max_length=20, choices=NotificationKind.choices)
    title = models.CharField(max_length=300)
    body = models.TextField(blank=True)
    deal = models.ForeignKey(Deal, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    link = models.CharField(max_length=200, blank=True,
                            help_text="A page of this site the notification opens, when it is not about one deal.")
    created_at = models.DateTimeField()
    read_at = models.DateTimeField(null=True, blank=True)
    emailed = models.BooleanField(default=False)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["user", "read_at", "-created_at"])]


class NotificationSettings(models.Model):
    """Which notification kinds also arrive by email, per user (none unless they choose)."""

    user = models.OneToOneField(User, on_delete=models.CASCADE, related_name="notification_settings")
    email_kinds = models.JSONField(default=list, blank=True)


class ReviewDigest(models.Model):
    """The weekly review sent to one user for one ISO week (dealgate.automation.scans).

    The unique constraint is the claim: the row commits with the notification, so two workers, or
    a scan run twice, send each user each week's review once."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="+")
    week = models.CharField(max_length=8, help_text="ISO week, e.g. 2026-W48.")
    sent_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "week"], name="review_digest_once_per_week")]


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", "Waiting to be sent"
    SENDING = "sending", "Being sent"
    DELIVERED = "delivered", "Delivered"
    FAILED = "failed", "Failed, will retry"
    GIVEN_UP = "given_up", "Given up"


class WebhookDelivery(models.Model):
    """One webhook action of one rule run: a JSON payload to POST to a URL until it is accepted.

    Recorded by the rule run (in its transaction) and sent by the worker after commit
    (`dealgate.automation.webhooks`). `attempts` is the claim: a worker takes an attempt with a
    conditional update of it, so two workers never send the same attempt.
    """

    rule = models.ForeignKey(Rule, on_delete=models.CASCADE, related_name="webhook_deliveries")
    run = models.ForeignKey(RuleRun, on_delete=models.CASCADE, related_name="webhook_deliveries")
    deal = models.ForeignKey(Deal, on_delete=models.CASCADE, related_name="+")
    url = models.CharField(max_length=2000)
    secret = models.CharField(max_length=200, help_text="Signs each attempt; never shown back.")
    payload = models.JSONField()
    status = models.CharField(max_length=10, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    sending_since = models.DateTimeField(null=True, blank=True)
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["status", "-created_at"])]

    def __str__(self) -> str:
        return f"delivery {self.pk} to {self.url} ({self.status})"


class WebhookAttempt(models.Model):
    """One POST of a delivery and what came back (a status code, or the error that stopped it)."""

    delivery = models.ForeignKey(WebhookDelivery, on_delete=models.CASCADE, related_name="attempt_log")
    number = models.PositiveSmallIntegerField()
    at = models.DateTimeField()
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    error = models.TextField(blank=True)
    duration_ms = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["delivery", "number"]
        constraints = [models.UniqueConstraint(fields=["delivery", "number"], name="webhook_attempt_once")]
