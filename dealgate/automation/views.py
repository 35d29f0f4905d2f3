"""Pages for tasks, the notification inbox and the rules list; each calls one service."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from dealgate.automation import rule_form, services
from dealgate.automation.models import Notification, NotificationKind, Rule, RuleRun, Trigger, WebhookDelivery
from dealgate.automation.rules import describe, retired_notes, retired_stages, signals_it_would_act_on, would_act_on
from dealgate.automation.webhooks import deliveries_for_admins, send_again
from dealgate.errors import DealgateError, ValidationFailed
from dealgate.web.views.common import admin_required, deal_for


def _back(request: HttpRequest, fallback: str) -> HttpResponse:
    target = request.POST.get("next", "")
    # only a path on this site: anything else (another host, or a word redirect() would try to reverse) falls back
    if target.startswith("/") and target.isprintable() and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        return HttpResponseRedirect(target)
    return redirect(fallback)


@login_required
@require_POST
def task_add(request: HttpRequest, pk: int) -> HttpResponse:
    """Add a task to a deal from its page; a refusal re-renders the page with the message."""
    deal = deal_for(request, pk)
    try:
        services.create_task(by=request.user, deal=deal, title=request.POST.get("title", ""),
                             due=request.POST.get("due", ""))
    except DealgateError as exc:
        from dealgate.web.views.deal import render_deal

        errors = exc.details if isinstance(exc, ValidationFailed) else {}
        return render_deal(request, deal, status=exc.http_status, errors=errors, error_form="task",
                           message=exc.message)
    messages.success(request, "Task added.")
    return redirect(reverse("web:deal", args=[deal.pk]))


@login_required
@require_POST
def task_done(request: HttpRequest, pk: int) -> HttpResponse:
    """Tick a task off (done=1) or reopen it (done=0), then go back where the person was."""
    task = get_object_or_404(services.visible_tasks(request.user).select_related("deal"), pk=pk)
    try:
        if request.POST.get("done", "1") == "1":
            services.complete_task(task, by=request.user)
        else:
            services.reopen_task(task, by=request.user)
    except DealgateError as exc:
        return HttpResponse(exc.message, status=exc.http_status, content_type="text/plain; charset=utf-8")
    return _back(request, reverse("web:deal", args=[task.deal_id]) if task.deal_id else reverse("web:my_day"))


@login_required
def inbox(request: HttpRequest) -> HttpResponse:
    notes = list(Notification.objects.filter(user=request.user).select_related("deal")[:100])
    return render(request, "automation/inbox.html", {"notifications": notes})


@login_required
@require_POST
def notification_open(request: HttpRequest, pk: int) -> HttpResponse:
    """Mark one notification read and open its deal or its page (or go back to the inbox)."""
    note = get_object_or_404(Notification.objects.filter(user=request.user), pk=pk)
    services.mark_read(note, by=request.user)
    if note.deal_id:
        return redirect(reverse("web:deal", args=[note.deal_id]))
    return redirect(note.link or reverse("automation:inbox"))  # a path on this site (services.notify checks)


@login_required
@require_POST
def inbox_read_all(request: HttpRequest) -> HttpResponse:
    services.mark_all_read(by=request.user)
    return redirect(reverse("automation:inbox"))


@login_required
def notification_email(request: HttpRequest) -> HttpResponse:
    """Choose which kinds of notification also arrive by email."""
    status = 200
    if request.method == "POST":
        try:
            services.set_email_kinds(by=request.user, kinds=request.POST.getlist("kinds"))
            messages.success(request, "Email choices saved.")
            return redirect(reverse("automation:notification_email"))
        except ValidationFailed as exc:
            messages.error(request, exc.message)
            status = exc.http_status
    return render(request, "automation/email_settings.html", {
        "kinds": NotificationKind.choices, "chosen": services.email_kinds_of(request.user),
        "has_email": bool(request.user.email)}, status=status)


@admin_required
def rules(request: HttpRequest) -> HttpResponse:
    """Admins: every rule in words, switchable on and off, the latest runs with their outcome, and the
    webhook deliveries (failing ones first)."""
    retired: dict[int | None, dict[str, str]] = {}  # per pipeline, read once
    rows = []
    for rule in Rule.objects.select_related("pipeline"):
        if rule.pipeline_id not in retired:
            retired[rule.pipeline_id] = retired_stages(rule.pipeline)
        rows.append((rule, describe(rule), retired_notes(rule, retired[rule.pipeline_id])))
    runs = RuleRun.objects.select_related("rule", "deal", "signal__account").order_by("-at", "-id")[:50]
    return render(request, "automation/rules.html", {"rules": rows, "runs": runs,
                                                     "deliveries": deliveries_for_admins()})


@admin_required
@require_POST
def rule_enabled(request: HttpRequest, pk: int) -> HttpResponse:
    rule = get_object_or_404(Rule, pk=pk)
    services.set_rule_enabled(rule, by=request.user, enabled=request.POST.get("enabled") == "1")
    messages.success(request, f"Rule '{rule.name}' {'enabled' if rule.enabled else 'disabled'}.")
    return redirect(reverse("automation:rules"))


@admin_required
def rule_test(request: HttpRequest, pk: int) -> HttpResponse:
    """"Test this rule": the open deals (or new signals) it would act on now; writes nothing."""
    rule = get_object_or_404(Rule, pk=pk)
    if rule.trigger == Trigger.SIGNAL_RAISED:
        signals = signals_it_would_act_on(rule)
        return render(request, "automation/rule_test.html", {
            "rule": rule, "words": describe(rule), "total": signals.count(), "signals": signals[:100],
            "on_signals": True, "retired": retired_notes(rule)})
    deals = would_act_on(rule)
    return render(request, "automation/rule_test.html", {
        "rule": rule, "words": describe(rule), "total": deals.count(), "deals": deals[:100],
        "retired": retired_notes(rule)})


def _render_rule_form(request: HttpRequest, draft: dict, *, rule: Rule | None = None, errors: dict | None = None,
                      status: int = 200) -> HttpResponse:
    errors = errors or {}
    field_rows, action_rows = rule_form.rows_for_display(draft, errors)
    return render(request, "automation/rule_form.html", {
        "rule": rule, "draft": draft, "errors": errors, "field_rows": field_rows, "action_rows": action_rows,
        "retired": retired_notes(rule) if rule is not None else [],
        **rule_form.choices(rule_form.named_in(draft))}, status=status)


def _save_rule(request: HttpRequest, rule: Rule | None) -> HttpResponse:
    """Post back for another action row, or save through the rule service; a refusal shows the form
    again with everything typed and each message next to its input."""
    draft = rule_form.draft_from_post(request.POST)
    if "add_action" in request.POST:
        if not rule_form.add_action_row(draft):
            return _render_rule_form(request, draft, rule=rule, status=422, errors={
                "actions": [f"A rule has at most {rule_form.MAX_ACTION_ROWS} actions."]})
        return _render_rule_form(request, draft, rule=rule)
    try:
        arguments, rows = rule_form.rule_arguments(draft)
    except ValidationFailed as exc:  # what could not even be read: already keyed by input
        return _render_rule_form(request, draft, rule=rule, errors=exc.details, status=exc.http_status)
    try:
        if rule is None:
            rule = services.create_rule(by=request.user, **arguments)
            messages.success(request, f"Rule '{rule.name}' created.")
        else:
            services.update_rule(rule, by=request.user, **arguments)
            messages.success(request, f"Rule '{rule.name}' saved.")
    except ValidationFailed as exc:
        return _render_rule_form(request, draft, rule=rule, errors=rule_form.form_errors(exc, rows, draft),
                                 status=exc.http_status)
    return redirect(reverse("automation:rules"))


@admin_required
def rule_new(request: HttpRequest) -> HttpResponse:
    """Admins: a new rule from a form (trigger, conditions, actions), never raw JSON."""
    if request.method == "POST":
        return _save_rule(request, None)
    return _render_rule_form(request, rule_form.blank_draft())


@admin_required
def rule_edit(request: HttpRequest, pk: int) -> HttpResponse:
    rule = get_object_or_404(Rule.objects.select_related("pipeline"), pk=pk)
    if request.method == "POST":
        return _save_rule(request, rule)
    return _render_rule_form(request, rule_form.draft_from_rule(rule), rule=rule)


@admin_required
def rule_delete(request: HttpRequest, pk: int) -> HttpResponse:
    """GET asks "Delete this rule?"; POST deletes it."""
    rule = get_object_or_404(Rule, pk=pk)
    if request.method == "POST":
        services.delete_rule(rule, by=request.user)
        messages.success(request, f"Rule '{rule.name}' deleted.")
        return redirect(reverse("automation:rules"))
    return render(request, "automation/rule_delete.html", {"rule": rule, "words": describe(rule),
                                                           "runs": rule.runs.count(), "tasks": rule.tasks.count()})


@admin_required
@require_POST
def webhook_send_again(request: HttpRequest, pk: int) -> HttpResponse:
    """"Send again" beside a webhook delivery: one more attempt, by the worker, now."""
    delivery = get_object_or_404(WebhookDelivery.objects.select_related("deal"), pk=pk)
    before = delivery.status
    send_again(delivery, by=request.user)
    if delivery.status == before:
        messages.info(request, f"The webhook for {delivery.deal.title} is already on its way.")
    else:
        messages.success(request, f"The webhook for {delivery.deal.title} will be sent again in a moment.")
    return redirect(reverse("automation:rules") + "#webhooks")
