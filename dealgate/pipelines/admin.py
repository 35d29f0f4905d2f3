"""Admin for pipelines: a pipeline with its stages inline, a stage with its criteria inline.

Criterion configs are JSON; `Criterion.clean` (via `services.validate_criterion`) refuses a config
the engine cannot evaluate, so a typo never reaches a gate. Stage order (open stages first, one Won,
one Lost) is refused by `services.validate_stage_order`, the check the settings page and API use.
Every add, change and delete here writes the audit log (AuditedAdmin, surface admin).
"""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.forms.models import BaseInlineFormSet

from dealgate.audit.admin import AuditedAdmin
from dealgate.errors import ValidationFailed
from dealgate.pipelines.models import Criterion, CustomField, LostReason, Pipeline, Stage
from dealgate.pipelines.services import StagePlace, validate_stage_order

# Deals' state spans copy each stage's kind and position (docs/decisions/007); an edit of either
# here rebuilds the pipeline's spans, as the app's stage reordering does.
SPAN_FIELDS = {"position", "kind"}


def _refresh_spans_if(changed: bool, pipeline_id: int) -> None:
    if changed:
        from dealgate.deals.timeline import refresh_spans

        refresh_spans(pipeline_id=pipeline_id)


def _refuse_bad_order(stages: list[StagePlace], pipeline_name: str, *, complete: bool) -> None:
    try:
        validate_stage_order(stages, pipeline_name=pipeline_name, complete=complete)
    except ValidationFailed as exc:
        raise forms.ValidationError(exc.details["stages"]) from None


class StageOrderFormSet(BaseInlineFormSet):
    """A pipeline's stages as edited together: the whole list must be in a valid order once saved."""

    def clean(self) -> None:
        super().clean()
        if any(self.errors):
            return
        kept = [form for form in self.forms
                if form.cleaned_data and not (self.can_delete and self._should_delete_form(form))]
        if not kept:
            return  # a pipeline saved before its stages are added; `dealgate check` reports it
        _refuse_bad_order(
            [StagePlace(f.cleaned_data.get("name") or "(unnamed)", f.cleaned_data.get("kind"),
                        f.cleaned_data.get("position")) for f in kept],
            self.instance.name, complete=True)


class StageAdminForm(forms.ModelForm):
    """One stage edited alone: it must not break its pipeline's order (a pipeline built one stage at a
    time may still lack Won or Lost; `dealgate check` reports what is missing)."""

    class Meta:
        model = Stage
        fields = "__all__"

    def clean(self) -> dict:
        cleaned = super().clean()
        pipeline, kind, position = cleaned.get("pipeline"), cleaned.get("kind"), cleaned.get("position")
        if pipeline is not None and kind and position is not None:
            others = [StagePlace(s.name, s.kind, s.position)
                      for s in pipeline.stages.exclude(pk=self.instance.pk)]
            mine = StagePlace(cleaned.get("name") or "this stage", kind, position)
            _refuse_bad_order([*others, mine], pipeline.name, complete=False)
        return cleaned


class StageInline(admin.TabularInline):
    model = Stage
    formset = StageOrderFormSet
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
    form = StageAdminForm
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
