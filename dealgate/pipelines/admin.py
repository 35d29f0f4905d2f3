"""Admin for pipelines: a pipeline with its stages inline, a stage with its criteria inline.

Criterion configs are JSON; `Criterion.clean` (via `services.validate_criterion`) refuses a config
the engine cannot evaluate, so a typo never reaches a gate. Every add, change and delete here
writes the audit log (AuditedAdmin, surface admin).
"""

from __future__ import annotations

from django.contrib import admin

from dealgate.audit.admin import AuditedAdmin
from dealgate.pipelines.models import Criterion, CustomField, LostReason, Pipeline, Stage

# Deals' state spans copy each stage's kind and position (docs/decisions/007); an edit of either
# here rebuilds the pipeline's spans, as the app's stage reordering does.
SPAN_FIELDS = {"position", "kind"}


def _refresh_spans_if(changed: bool, pipeline_id: int) -> None:
    if changed:
        from dealgate.deals.timeline import refresh_spans

        refresh_spans(pipeline_id=pipeline_id)


class StageInline(admin.TabularInline):
    model = Stage
    extra = 0
    ordering = ["position"]
    fields = ["position", "key", "name", "kind", "probability", "rot_days", "exit_question"]
    show_change_link = True


@admin.register(Pipeline)
class PipelineAdmin(AuditedAdmin, admin.ModelAdmin):
    list_display = ["name", "key", "template", "single_threaded_from", "business_days", "created_at"]
    search_fields = ["name", "key"]
    readonly_fields = ["template", "created_at"]
    inlines = [StageInline]

    def save_formset(self, request, form, formset, change):
        super().save_formset(request, form, formset, change)
        if formset.model is Stage:
            _refresh_spans_if(any(SPAN_FIELDS & set(f.changed_data) for f in formset.forms), form.instance.pk)


class CriterionInline(admin.StackedInline):
    model = Criterion
    extra = 0
    ordering = ["phase", "position", "id"]
    fields = [("phase", "position"), ("key", "kind"), "label", "config"]


@admin.register(Stage)
class StageAdmin(AuditedAdmin, admin.ModelAdmin):
    list_display = ["name", "pipeline", "position", "kind", "probability", "rot_days"]
    list_filter = ["pipeline", "kind"]
    ordering = ["pipeline__name", "position"]
    search_fields = ["name", "key", "pipeline__name"]
    inlines = [CriterionInline]

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        _refresh_spans_if(change and bool(SPAN_FIELDS & set(form.changed_data)), obj.pipeline_id)


@admin.register(Criterion)
class CriterionAdmin(AuditedAdmin, admin.ModelAdmin):
    list_display = ["label", "stage", "phase", "kind", "position"]
    list_filter = ["stage__pipeline", "kind", "phase"]
    ordering = ["stage__pipeline__name", "stage__position", "phase", "position"]
    search_fields = ["label", "key", "stage__name"]


@admin.register(LostReason)
class LostReasonAdmin(AuditedAdmin, admin.ModelAdmin):
    list_display = ["label", "key", "active"]
    list_editable = ["active"]


@admin.register(CustomField)
class CustomFieldAdmin(AuditedAdmin, admin.ModelAdmin):
    list_display = ["label", "key", "type"]
