"""Admin pages for deals: a place to look things up, never a back door around the gates.

Every write to a deal goes through `dealgate.deals.services` (gates, history, permissions), and
stage history and field changes are evidence that no one may edit. So every page here is
read-only: no add, change or delete permission, for admins included.
"""

from __future__ import annotations

from django.contrib import admin

from dealgate.deals.models import (
    Account,
    Activity,
    Approval,
    ChecklistAnswer,
    Contact,
    Deal,
    DealContact,
    FieldChange,
    StageHistory,
)


class ReadOnly:
    """List, search and view; writes happen in the app through the services."""

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


class ReadOnlyAdmin(ReadOnly, admin.ModelAdmin):
    pass


class ReadOnlyInline(ReadOnly, admin.TabularInline):
    extra = 0
    can_delete = False


class DealContactInline(ReadOnlyInline):
    model = DealContact
    fields = ("contact", "role")


class StageHistoryInline(ReadOnlyInline):
    model = StageHistory
    fields = ("at", "kind", "from_stage", "to_stage", "by", "amount", "probability", "override", "override_reason")


@admin.register(Deal)
class DealAdmin(ReadOnlyAdmin):
    list_display = ("title", "account", "owner", "pipeline", "stage", "amount", "currency", "expected_close_date",
                    "closed_at")
    list_filter = ("pipeline", "stage__kind", "forecast_category", "source", "team")
    search_fields = ("title", "account__name", "owner__username", "external_id")
    list_select_related = ("account", "owner", "pipeline", "stage")
    date_hierarchy = "created_at"
    inlines = [DealContactInline, StageHistoryInline]


@admin.register(Account)
class AccountAdmin(ReadOnlyAdmin):
    list_display = ("name", "segment", "owner", "created_at")
    list_filter = ("segment",)
    search_fields = ("name", "external_id")
    list_select_related = ("owner",)


@admin.register(Contact)
class ContactAdmin(ReadOnlyAdmin):
    list_display = ("name", "account", "email", "title")
    search_fields = ("name", "email", "account__name")
    list_select_related = ("account",)


@admin.register(Activity)
class ActivityAdmin(ReadOnlyAdmin):
    list_display = ("occurred_at", "kind", "subject", "outcome", "deal", "account", "by")
    list_filter = ("kind", "outcome")
    search_fields = ("subject", "deal__title", "account__name")
    list_select_related = ("deal", "account", "by")
    date_hierarchy = "occurred_at"


@admin.register(ChecklistAnswer)
class ChecklistAnswerAdmin(ReadOnlyAdmin):
    list_display = ("deal", "item", "checked", "evidence", "by", "at")
    search_fields = ("deal__title", "item")
    list_select_related = ("deal", "by")


@admin.register(Approval)
class ApprovalAdmin(ReadOnlyAdmin):
    list_display = ("deal", "condition", "approved_by", "approved_at")
    search_fields = ("deal__title", "condition")
    list_select_related = ("deal", "approved_by")


@admin.register(StageHistory)
class StageHistoryAdmin(ReadOnlyAdmin):
    list_display = ("at", "deal", "kind", "from_stage", "to_stage", "by", "amount", "probability", "override",
                    "imported")
    list_filter = ("kind", "override", "imported", "to_stage__pipeline")
    search_fields = ("deal__title", "override_reason")
    list_select_related = ("deal", "from_stage", "to_stage", "by")
    date_hierarchy = "at"


@admin.register(FieldChange)
class FieldChangeAdmin(ReadOnlyAdmin):
    list_display = ("at", "deal", "field", "old_value", "new_value", "by")
    list_filter = ("field",)
    search_fields = ("deal__title",)
    list_select_related = ("deal", "by")
    date_hierarchy = "at"
