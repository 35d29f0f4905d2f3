"""The rule engine: which rules an event triggers, whether a deal meets their conditions, and
running their actions exactly once per occurrence.

Events come from the deal services after their transaction commits (`dealgate.automation.events`)
and run in the worker (`dealgate.automation.jobs`), never inside a web request. Actions that
change a deal call the deal services with `by=None` and no override, so a rule meets the same
gates a person does: it can never move a deal past an unmet criterion.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone

from dealgate.audit.context import Surface, acting_from
from dealgate.automation import services, webhooks
from dealgate.automation.models import Rule, RuleRun, RunOutcome, Trigger
from dealgate.automation.rules import conditions_filter, signal_filter
from dealgate.deals import services as deal_services
from dealgate.deals.models import Deal, StageHistory
from dealgate.errors import DealgateError, ValidationFailed
from dealgate.people.access import can_view_deal
from dealgate.pipelines.models import StageKind
from dealgate.signals.models import Signal

logger = logging.getLogger(__name__)

EVENTS = ("created", "moved", "assigned")


def triggers_of(event: str, deal: Deal, occurrence: str) -> list[tuple[str, str]]:
    """(trigger, stage key or "") pairs an event fires. A move fires "entered stage" and, into a
    closed stage, "won" or "lost"; the stage is the one of the move, not where the deal is now."""
    if event == "created":
        return [(Trigger.DEAL_CREATED, "")]
    if event == "assigned":
        return [(Trigger.DEAL_ASSIGNED, "")]
    row = StageHistory.objects.select_related("to_stage").filter(
        pk=int(occurrence.removeprefix("history:")), deal_id=deal.pk).first()
    if row is None:
        return []
    fired = [(Trigger.STAGE_ENTERED, row.to_stage.key)]
    if row.to_stage.kind == StageKind.WON:
        fired.append((Trigger.DEAL_WON, ""))
    elif row.to_stage.kind == StageKind.LOST:
        fired.append((Trigger.DEAL_LOST, ""))
    return fired


def rules_for(trigger: str, stage_key: str, deal: Deal) -> list[Rule]:
    rules = Rule.objects.filter(enabled=True, trigger=trigger).filter(
        Q(pipeline__isnull=True) | Q(pipeline_id=deal.pipeline_id))
    if trigger == Trigger.STAGE_ENTERED:
        rules = rules.filter(trigger_stage=stage_key)
    return list(rules.order_by("id"))


def matches(rule: Rule, deal: Deal) -> bool:
    return Deal.objects.filter(pk=deal.pk).filter(conditions_filter(rule)).exists()


def handle_event(event: str, deal_id: int, occurrence: str) -> list[RuleRun]:
    """Run every enabled rule the event triggers on this deal; return the runs made now."""
    if event not in EVENTS:
        raise ValueError(f"unknown event {event!r}")
    deal = Deal.objects.select_related("owner", "team", "stage", "pipeline").filter(pk=deal_id).first()
    if deal is None:  # deleted since: nothing to act on
        return []
    runs = []
    for trigger, stage_key in triggers_of(event, deal, occurrence):
        for rule in rules_for(trigger, stage_key, deal):
            if matches(rule, deal):
                run = run_rule(rule, deal, trigger=trigger, occurrence=occurrence)
                if run is not None:
                    runs.append(run)
    return runs


def handle_signals(signal_ids: list[int]) -> list[RuleRun]:
    """Run every enabled "signal raised" rule on each of these signals (just raised by a scan)."""
    rules = list(Rule.objects.filter(enabled=True, trigger=Trigger.SIGNAL_RAISED).order_by("id"))
    runs = []
    for rule in rules:
        signals = (Signal.objects.filter(pk__in=signal_ids).filter(signal_filter(rule))
                   .select_related("account", "account__owner").order_by("id"))
        for signal in signals:
            run = run_rule(rule, signal, trigger=Trigger.SIGNAL_RAISED, occurrence=f"signal:{signal.pk}")
            if run is not None:
                runs.append(run)
    return runs


def run_rule(rule: Rule, subject: Deal | Signal, *, trigger: str, occurrence: str,
             now: dt.datetime | None = None) -> RuleRun | None:
    """Claim the occurrence and run the rule's actions in one transaction; None if already claimed.

    `subject` is the deal, or for "signal raised" the signal (claimed once per rule and signal).

    The claim (the RuleRun row, unique per rule, deal, trigger and occurrence) commits with the
    actions' writes: a second worker waits on the row and then finds it taken; a worker killed
    half-way leaves no claim, so the job runs again in full. A refused action (e.g. a gate) undoes
    the rule's other actions and is logged as failed with its reason.
    """
    try:
        with transaction.atomic():
            on_signal = isinstance(subject, Signal)
            run = RuleRun.objects.create(rule=rule, deal=None if on_signal else subject,
                                         signal=subject if on_signal else None, trigger=trigger,
                                         occurrence=occurrence, at=now or timezone.now(), outcome=RunOutcome.DONE)
            act = run_signal_action if on_signal else run_action
            try:
                with transaction.atomic(), acting_from(Surface.AUTOMATION):  # the audit log says "automation"
                    run.actions = [act(step, rule, subject, today=timezone.localdate(run.at), run=run)
                                   for step in rule.actions]
            except DealgateError as exc:
                run.outcome, run.error = RunOutcome.FAILED, _explain(exc)
            except Exception as exc:  # a bug or a bad stored rule: log it on the run, keep the worker going
                logger.exception("Rule %s failed on %s %s", rule.pk, type(subject).__name__.lower(), subject.pk)
                run.outcome, run.error = RunOutcome.FAILED, f"{type(exc).__name__}: {exc}"
            run.save(update_fields=["actions", "outcome", "error"])
            return run
    except IntegrityError:
        return None


def _explain(exc: DealgateError) -> str:
    unmet = exc.details.get("unmet") if isinstance(exc.details, dict) else None
    if unmet:
        return exc.message + " " + "; ".join(f"{u['label']}: {u['missing']}" for u in unmet)
    return exc.message


def recipient(deal: Deal, who: str) -> Any:
    """The deal's owner, the manager of the owner's team (the owner when the team has none), or the
    owner of the deal's account (the deal's owner when the account has none)."""
    if who == "account_owner":
        return deal.account.owner or deal.owner
    return _owner_or_manager(deal.owner, who)


def _owner_or_manager(owner: Any, who: str) -> Any:
    """For a signal rule the owner is the account's: "account_owner" is the same person."""
    if who == "manager":
        profile = getattr(owner, "profile", None)
        manager = profile.team.manager if profile is not None and profile.team is not None else None
        return manager or owner
    return owner


def _words(text: str, deal: Deal) -> str:
    if "{handoff}" in text:
        text = text.replace("{handoff}", handoff_record(deal))
    return (text.replace("{deal}", deal.title).replace("{stage}", deal.stage.name)
            .replace("{account}", deal.account.name)
            .replace("{owner}", deal.owner.get_full_name() or deal.owner.username))


def handoff_record(deal: Deal) -> str:
    """A won deal's handoff record in words (`dealgate.deals.selectors.handoff_record`), one item a line."""
    from dealgate.deals.selectors import handoff_record as record

    return "\n".join(record(deal).lines()) or "No handoff record was written at the win."


def run_action(step: dict[str, Any], rule: Rule, deal: Deal, *, today: dt.date, run: RuleRun | None = None) -> str:
    """Do one action through the services; return what was done, in words, for the run log."""
    kind = step["type"]
    if kind == "create_task":
        due = _due(step, today)
        who = recipient(deal, step.get("assignee", "owner"))
        task = services.create_task(by=None, title=_words(step["title"], deal), due=due, deal=deal, assignee=who,
                                    source_rule=rule)
        return f"task {task.pk} '{task.title}' for {who.username} due {due.isoformat()}"
    if kind == "notify":
        who = recipient(deal, step.get("to", "owner"))
        sees_deal = can_view_deal(who, deal)  # else (an account owner in another team) it opens the account
        services.notify(who, kind=step.get("kind", "alert"), title=_words(step["title"], deal),
                        body=_words(step.get("body", ""), deal), deal=deal if sees_deal else None,
                        link="" if sees_deal else reverse("web:account", args=[deal.account_id]))
        return f"notified {who.username}"
    if kind == "set_field":
        field, value = step["field"], step.get("value")
        if field.startswith("custom."):
            deal_services.update_deal(deal, by=None, custom_fields={**deal.custom_fields, field[7:]: value})
        else:
            deal_services.update_deal(deal, by=None, **{field: value})
        return f"set {field} to {value!r}"
    if kind == "move_to_stage":
        deal_services.move_deal(deal, step["stage"], by=None)
        return f"moved to {step['stage']}"
    if kind == "webhook":  # sent by the worker after this run commits
        if run is None:
            raise ValueError("a webhook action is recorded against its rule run")
        delivery = webhooks.record_delivery(step, rule, run, deal)
        return f"webhook {delivery.pk} to {delivery.url} queued"
    raise ValueError(f"unknown action {kind!r}")


def _due(step: dict[str, Any], today: dt.date) -> dt.date:
    days = step.get("due_in_days", 0)
    return services.add_business_days(today, days) if step.get("business_days") else today + dt.timedelta(days=days)


def _signal_words(text: str, signal: Signal) -> str:
    return (text.replace("{account}", signal.account.name).replace("{signal}", signal.title)
            .replace("{kind}", signal.get_kind_display()).replace("{revenue}", f"{signal.revenue:,.0f}"))


def run_signal_action(step: dict[str, Any], rule: Rule, signal: Signal, *, today: dt.date,
                      run: RuleRun | None = None) -> str:
    """One action of a "signal raised" rule, on the signal's account, through the services."""
    from dealgate.signals.services import convert_signal

    kind, owner = step["type"], signal.account.owner
    if owner is None:
        raise ValidationFailed.for_field("account", f"account {signal.account.name!r} has no owner to act for")
    if kind == "create_task":
        due, who = _due(step, today), _owner_or_manager(owner, step.get("assignee", "owner"))
        task = services.create_task(by=None, title=_signal_words(step["title"], signal), due=due,
                                    account=signal.account, assignee=who, source_rule=rule)
        return f"task {task.pk} '{task.title}' on account {signal.account.name} for {who.username} due {due.isoformat()}"
    if kind == "notify":
        who = _owner_or_manager(owner, step.get("to", "owner"))
        services.notify(who, kind=step.get("kind", "alert"), title=_signal_words(step["title"], signal),
                        body=_signal_words(step.get("body", ""), signal),
                        link=reverse("web:account", args=[signal.account_id]))
        return f"notified {who.username}"
    if kind == "convert_to_deal":
        deal = convert_signal(signal, by=None)
        return f"converted to deal {deal.pk} '{deal.title}'"
    raise ValueError(f"a signal rule cannot {kind!r}")
