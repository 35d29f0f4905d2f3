"""Quotas (for coverage and forecast categories) and the audit trail of adopted probabilities.

Analytics reads history and writes nothing else; these two tables are its only own data.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import Q, Sum

from dealgate.people.models import Team


class Quota(models.Model):
    """A target for a user, a team, or (neither set) the whole company, for `months` from `period_start`."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE,
                             related_name="quotas")
    team = models.ForeignKey(Team, null=True, blank=True, on_delete=models.CASCADE, related_name="quotas")
    period_start = models.DateField(help_text="First day of the month the quota starts.")
    months = models.PositiveSmallIntegerField(default=3, help_text="1 (month), 3 (quarter) or 12 (year).")
    amount = models.DecimalField(max_digits=14, decimal_places=2)
    currency = models.CharField(max_length=3, default="EUR")

    class Meta:
        ordering = ["period_start"]
        constraints = [
            models.CheckConstraint(condition=~(Q(user__isnull=False) & Q(team__isnull=False)),
                                   name="quota_user_or_team_not_both"),
            # One quota per owner (or team, or the company) and period: setting it again replaces it.
            models.UniqueConstraint(fields=["user", "period_start", "months"], condition=Q(user__isnull=False),
                                    name="quota_one_per_user_and_period"),
            models.UniqueConstraint(fields=["team", "period_start", "months"], condition=Q(team__isnull=False),
                                    name="quota_one_per_team_and_period"),
        ]

    @property
    def period_label(self) -> str:
        from dealgate.analytics.periods import month_period

        return month_period(self.period_start.year, self.period_start.month, self.months).label

    @property
    def label(self) -> str:
        """How the audit log and the pages name it: "quota of alice for 2026-Q4"."""
        who = self.user.username if self.user_id else f"team {self.team.name}" if self.team_id else "the company"
        return f"quota of {who} for {self.period_label}"

    def __str__(self) -> str:
        who = self.user or self.team or "company"
        return f"{who} {self.period_start:%Y-%m} +{self.months}m: {self.amount} {self.currency}"


def quota_for(scope: Any, period: Any) -> Decimal | None:
    """The quota of the scope's owner, team or the company for the period.

    Quotas lying inside the period add up; a longer quota containing the period counts pro rata
    (a 120k quarter is 40k a month). The company figure is the company quota, else the sum of team
    quotas, else the sum of user quotas. A rep's or manager's own view (no owner or team cut) is
    their team's: its quota, else the sum of its members'. None when no quota is set.
    """
    rows = Quota.objects.filter(currency=scope.currency)
    if scope.owner_id is not None:
        rows = rows.filter(user_id=scope.owner_id)
    elif scope.team_id is not None:
        rows = rows.filter(team_id=scope.team_id)
    elif scope.viewer_id is not None:  # a rep or manager sees their team's deals: their team's quota
        if scope.viewer_team_id is None:
            rows = rows.filter(user_id=scope.viewer_id)
        else:
            team = rows.filter(team_id=scope.viewer_team_id)
            rows = team if team.exists() else rows.filter(user__profile__team_id=scope.viewer_team_id)
    else:
        company = rows.filter(user__isnull=True, team__isnull=True)
        teams = rows.filter(team__isnull=False)
        rows = company if company.exists() else teams if teams.exists() else rows.filter(user__isnull=False)
    start, end = period.start.date(), period.end.date()
    inside = rows.filter(period_start__gte=start, period_start__lt=end).aggregate(total=Sum("amount"))["total"]
    total = Decimal(inside or 0)
    found = inside is not None
    for quota in rows.filter(period_start__lt=start, months__gt=period.months).only("period_start", "months", "amount"):
        q_end_index = quota.period_start.year * 12 + quota.period_start.month - 1 + quota.months
        if q_end_index >= start.year * 12 + start.month - 1 + period.months:
            total += quota.amount * period.months / quota.months
            found = True
    return total.quantize(Decimal("0.01")) if found else None


class ProbabilityAdoption(models.Model):
    """An admin wrote a learned (historical) win probability into a stage. Reverting writes another row."""

    stage = models.ForeignKey("pipelines.Stage", on_delete=models.CASCADE, related_name="probability_adoptions")
    old_probability = models.PositiveSmallIntegerField()
    new_probability = models.PositiveSmallIntegerField()
    sample_closed = models.PositiveIntegerField(default=0, help_text="Closed deals the learned value came from.")
    sample_won = models.PositiveIntegerField(default=0)
    reverts = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-at", "-id"]


class ExchangeRate(models.Model):
    """What one unit of a foreign currency is worth in the company currency, from `effective_from`
    until the next rate of that currency (dealgate.analytics.rates; decision 035)."""

    currency = models.CharField(max_length=3)
    effective_from = models.DateField()
    rate = models.DecimalField(max_digits=17, decimal_places=10,
                               help_text="Company-currency units per one unit of `currency`.")

    class Meta:
        ordering = ["currency", "-effective_from"]
        constraints = [
            models.UniqueConstraint(fields=["currency", "effective_from"], name="exchange_rate_one_per_currency_and_day"),
            models.CheckConstraint(condition=Q(rate__gt=0), name="exchange_rate_positive"),
        ]

    @property
    def label(self) -> str:
        """How the audit log and the pages name it: "USD rate from 1 Nov 2026" (kept in the log, so with its
        year; in the date locale of whoever set it, as any text they write)."""
        from dealgate.words import full_day

        return f"{self.currency} rate from {full_day(self.effective_from)}"

    def __str__(self) -> str:
        return f"1 {self.currency} = {self.rate} from {self.effective_from}"


class StoredFigure(models.Model):
    """A figure computed for a past cutoff, kept beyond the process (dealgate.analytics.cache,
    `figure(durable=True)`; decision 044). It is served while no SpanRewrite note newer than
    `rewrite_mark` changed anything before `cutoff` and the pipelines' rules add up to `rules_mark`,
    the rule the per-process cache applies to past figures. A cache, not a record: nobody writes it
    but the figure functions, and rows older than `cache.KEEP_DAYS` are dropped when a new one is stored."""

    key = models.CharField(max_length=64, primary_key=True, help_text="Hash of the function, its arguments and "
                                                                      "the analytics code's fingerprint.")
    name = models.CharField(max_length=200)
    cutoff = models.DateTimeField()
    rewrite_mark = models.BigIntegerField()
    rules_mark = models.BigIntegerField()
    value = models.BinaryField()
    stored_at = models.DateTimeField(db_index=True)
