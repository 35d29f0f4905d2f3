"""Reading the audit log: the filters shared by the settings page and the API, and links to objects."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, Mapping

from django.contrib.auth import get_user_model
from django.db.models import QuerySet
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode

from dealgate.audit.models import AuditEntry, Surface
from dealgate.errors import ValidationFailed

OBJECT_TYPES = ("deal", "account", "contact", "pipeline", "stage", "criterion", "user", "team", "token",
                "lost reason", "custom field", "rule", "signal", "quote")
FILTERS = ("object_type", "object_id", "person", "surface", "since", "until")
MAX_ID = 2**63 - 1


@dataclass
class AuditFilters:
    object_type: str = ""
    object_id: int | None = None
    person: Any = None
    surface: str = ""
    since: dt.date | None = None
    until: dt.date | None = None


def _clean_text(params: Mapping[str, Any], name: str) -> str:
    value = str(params.get(name) or "").strip()
    if "\x00" in value or len(value) > 150:
        raise ValidationFailed.for_field(name, "is not a value this filter knows")
    return value


def _date(params: Mapping[str, Any], name: str) -> dt.date | None:
    text = _clean_text(params, name)
    if not text:
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise ValidationFailed.for_field(name, f"{text!r} is not a date; use YYYY-MM-DD") from None


def parse_filters(params: Mapping[str, Any]) -> AuditFilters:
    """Turn query parameters into filters, or raise ValidationFailed naming the bad one."""
    found = AuditFilters(since=_date(params, "since"), until=_date(params, "until"))
    found.object_type = _clean_text(params, "object_type")
    if found.object_type and found.object_type not in OBJECT_TYPES:
        raise ValidationFailed.for_field("object_type", f"choose one of {', '.join(OBJECT_TYPES)}")
    object_id = _clean_text(params, "object_id")
    if object_id:
        if not (object_id.isascii() and object_id.isdigit()) or not 0 < int(object_id) <= MAX_ID:
            raise ValidationFailed.for_field("object_id", f"{object_id!r} is not an id (a whole number)")
        found.object_id = int(object_id)
    found.surface = _clean_text(params, "surface")
    if found.surface and found.surface not in Surface.values:
        raise ValidationFailed.for_field("surface", f"choose one of {', '.join(Surface.values)}")
    person = _clean_text(params, "person")
    if person:
        found.person = get_user_model().objects.filter(username=person).first()
        if found.person is None:
            raise ValidationFailed.for_field("person", f"no user {person!r}")
    if found.since and found.until and found.since > found.until:
        raise ValidationFailed.for_field("until", "is before the start date")
    return found


def _day_start(day: dt.date) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time.min))


def audit_entries(filters: AuditFilters) -> QuerySet:
    """Newest first; dates are whole days in the installation's time zone, both ends included."""
    qs = AuditEntry.objects.select_related("by")
    if filters.object_type:
        qs = qs.filter(object_type=filters.object_type)
    if filters.object_id is not None:
        qs = qs.filter(object_id=filters.object_id)
    if filters.person is not None:
        qs = qs.filter(by=filters.person)
    if filters.surface:
        qs = qs.filter(surface=filters.surface)
    if filters.since:
        qs = qs.filter(at__gte=_day_start(filters.since))
    if filters.until and filters.until < dt.date.max:
        qs = qs.filter(at__lt=_day_start(filters.until + dt.timedelta(days=1)))
    return qs.order_by("-at", "-id")


def object_links(entries: list[AuditEntry]) -> dict[tuple[str, int], str]:
    """Where each entry's object lives in the app; a few queries per page, whatever its length."""
    from dealgate.pipelines.models import Criterion, Pipeline, Stage

    wanted: dict[str, set[int]] = {}
    for row in entries:
        wanted.setdefault(row.object_type, set()).add(row.object_id)
    keys = {
        "pipeline": dict(Pipeline.objects.filter(pk__in=wanted.get("pipeline", ())).values_list("pk", "key")),
        "stage": dict(Stage.objects.filter(pk__in=wanted.get("stage", ())).values_list("pk", "pipeline__key")),
        "criterion": dict(Criterion.objects.filter(pk__in=wanted.get("criterion", ()))
                          .values_list("pk", "stage__pipeline__key")),
    }
    links = {}
    for row in entries:
        link = _link(row, keys)
        if link:
            links[(row.object_type, row.object_id)] = link
    return links


def _link(row: AuditEntry, keys: dict[str, dict[int, str]]) -> str:
    kind, pk = row.object_type, row.object_id
    if kind == "deal":
        return reverse("web:deal", args=[pk])
    if kind == "account":
        return reverse("web:account", args=[pk])
    if kind == "contact":
        return reverse("web:contacts") + "?" + urlencode({"q": row.object_name})
    if kind in keys:
        key = keys[kind].get(pk)
        return reverse("web:settings_pipeline", args=[key]) if key else ""
    if kind in ("user", "team"):
        return reverse("web:settings_users")
    if kind == "rule":
        return reverse("automation:rules")
    if kind == "signal":
        return reverse("signals:inbox")
    return ""
