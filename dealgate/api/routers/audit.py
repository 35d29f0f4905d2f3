"""The audit log for admins, with the same filters as the Settings → Audit log page."""

from __future__ import annotations

from typing import Annotated

from ninja import Query, Router

from dealgate.api.pagination import DEFAULT_LIMIT, MAX_LIMIT, paginate
from dealgate.api.routers import ERRORS
from dealgate.api.routers.deals import Cursor
from dealgate.api.schemas import AuditPage
from dealgate.audit.selectors import audit_entries, parse_filters
from dealgate.errors import NotAllowed
from dealgate.people.access import role_of
from dealgate.people.models import Role

router = Router(tags=["audit"])


@router.get("", response={200: AuditPage, **ERRORS}, summary="Recorded changes, newest first (admins)")
def list_audit(request, object_type: str = "", object_id: str = "", person: str = "", surface: str = "",
               since: str = "", until: str = "", cursor: Cursor | None = None,
               limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT):
    """Filters: `object_type` and `object_id`, `person` (a username), `surface`, and `since`/`until`
    (YYYY-MM-DD, whole days, both included)."""
    if role_of(request.auth) != Role.ADMIN:
        raise NotAllowed("Only an administrator may read the audit log.")
    filters = parse_filters({"object_type": object_type, "object_id": object_id, "person": person,
                             "surface": surface, "since": since, "until": until})
    items, next_cursor = paginate(audit_entries(filters), cursor=cursor, limit=limit, time_field="at")
    return {"items": items, "next_cursor": next_cursor}
