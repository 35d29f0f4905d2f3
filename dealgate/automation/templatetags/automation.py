"""Template pieces other pages show: the unread count in the header, a deal's task box."""

from __future__ import annotations

from typing import Any

from django import template
from django.utils import timezone

from dealgate.automation.models import Notification, Task
from dealgate.people.access import can_edit_deal

register = template.Library()


@register.simple_tag
def unread_count(user: Any) -> int:
    if not getattr(user, "is_authenticated", False):
        return 0
    return Notification.objects.filter(user=user, read_at__isnull=True).count()


@register.inclusion_tag("automation/_deal_tasks.html", takes_context=True)
def deal_tasks(context: Any, deal: Any) -> dict[str, Any]:
    """Open tasks first (earliest due first), then the last few done."""
    request = context["request"]
    tasks = list(Task.objects.filter(deal=deal).select_related("assignee").order_by("done", "due", "id")[:50])
    return {
        "deal": deal, "tasks": tasks, "today": timezone.localdate(), "csrf_token": context.get("csrf_token"),
        "can_edit": can_edit_deal(request.user, deal), "request": request,
        "errors": context.get("errors") if context.get("error_form") == "task" else {},
        "error_message": context.get("error_message") if context.get("error_form") == "task" else "",
    }
