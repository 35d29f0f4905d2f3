"""The audit log in the Django admin (read-only), and the mixin that audits admin edits.

The admin writes through model forms, not through the services; `AuditedAdmin` makes every save
and delete there write its audit rows in the admin's own transaction (the surface is `admin`,
set by the middleware for /admin/).
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin
from django.core.exceptions import FieldDoesNotExist

from dealgate.audit.models import AuditEntry
from dealgate.audit.services import entry, record, record_changes, write_entries
from dealgate.deals.admin import ReadOnlyAdmin


def _stored(obj: Any) -> Any:
    """The row as it is in the database, before the admin's form is saved over it."""
    return type(obj)._default_manager.filter(pk=obj.pk).first() if obj.pk is not None else None


def _plain_fields(obj: Any, names: list[str]) -> list[str]:
    """Form fields that are columns of the row (not many-to-many, not form-only fields)."""
    plain = []
    for name in names:
        try:
            field = obj._meta.get_field(name)
        except FieldDoesNotExist:
            continue
        if field.concrete and not field.many_to_many:
            plain.append(name)
    return plain


def _record_saved(obj: Any, old: Any, changed: list[str], by: Any) -> None:
    if old is None:
        record(obj, "created", by=by)
    else:
        record_changes(obj, [(name, getattr(old, name), getattr(obj, name)) for name in _plain_fields(obj, changed)],
                       by=by)


class AuditedAdmin:
    """Mix into a ModelAdmin: its adds, changes and deletes (inline rows included) are audited."""

    def save_model(self, request, obj, form, change):
        old = _stored(obj) if change else None
        super().save_model(request, obj, form, change)
        _record_saved(obj, old, list(form.changed_data), request.user)

    def delete_model(self, request, obj):
        record(obj, "deleted", by=request.user)
        super().delete_model(request, obj)

    def delete_queryset(self, request, queryset):
        write_entries([entry(obj, "deleted", by=request.user) for obj in queryset])
        super().delete_queryset(request, queryset)

    def save_formset(self, request, form, formset, change):
        changed = [f for f in formset.forms if f.instance.pk is not None and f.has_changed()
                   and f not in formset.deleted_forms]
        old = {f.instance.pk: _stored(f.instance) for f in changed}
        deleted = [entry(f.instance, "deleted", by=request.user) for f in formset.deleted_forms
                   if f.instance.pk is not None]
        super().save_formset(request, form, formset, change)
        write_entries(deleted)
        for new in formset.new_objects:
            record(new, "created", by=request.user)
        for f in changed:
            _record_saved(f.instance, old[f.instance.pk], list(f.changed_data), request.user)


@admin.register(AuditEntry)
class AuditEntryAdmin(ReadOnlyAdmin):
    list_display = ("at", "by", "surface", "object_type", "object_id", "object_name", "action", "field", "before",
                    "after")
    list_filter = ("surface", "object_type", "action")
    search_fields = ("object_name", "by__username", "field")
    list_select_related = ("by",)
    date_hierarchy = "at"


User = get_user_model()
if admin.site.is_registered(User):
    admin.site.unregister(User)


@admin.register(User)
class AuditedUserAdmin(AuditedAdmin, UserAdmin):
    """Django's user admin, audited: a user's flags or name changed here shows in the log."""
