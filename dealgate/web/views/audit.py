"""The audit log page for admins: every recorded change, filtered by object, person, surface and date."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.http import urlencode

from dealgate.audit.models import AuditEntry, Surface
from dealgate.audit.selectors import FILTERS, OBJECT_TYPES, AuditFilters, audit_entries, object_links, parse_filters
from dealgate.errors import ValidationFailed
from dealgate.web.views.common import admin_required

PER_PAGE = 50


@admin_required
def audit_log(request: HttpRequest) -> HttpResponse:
    status, error = 200, ""
    try:
        filters = parse_filters(request.GET)
    except ValidationFailed as exc:
        filters, status, error = AuditFilters(), exc.http_status, exc.message
    qs = audit_entries(filters) if not error else AuditEntry.objects.none()
    page = Paginator(qs, PER_PAGE).get_page(request.GET.get("page"))
    rows = list(page)
    links = object_links(rows)
    query = {name: request.GET.get(name, "") for name in FILTERS if request.GET.get(name)}
    return render(request, "web/settings/audit.html", {
        "page": page, "rows": [(row, links.get((row.object_type, row.object_id), "")) for row in rows],
        "error": error, "params": query, "query": urlencode(query),
        "object_types": OBJECT_TYPES, "surfaces": Surface.choices,
        "people": get_user_model().objects.order_by("username").values_list("username", flat=True),
    }, status=status)

