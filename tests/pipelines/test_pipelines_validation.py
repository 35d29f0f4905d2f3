"""Criteria are data, so bad data is refused where an admin types it and reported by `check`."""

from __future__ import annotations

import pytest
from django.contrib import admin
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.test import RequestFactory

from dealgate.pipelines.checks import check_criteria
from dealgate.pipelines.criteria import CriterionConfigError
from dealgate.pipelines.models import Criterion, CustomField, Stage
from dealgate.pipelines.services import create_pipeline_from_template, validate_criterion


@pytest.fixture
def criterion_form(world):
    request = RequestFactory().get("/admin/pipelines/criterion/add/")
    request.user = world.dave
    return admin.site._registry[Criterion].get_form(request)


def form_data(stage: Stage, kind: str, config: str) -> dict:
    return {"stage": stage.pk, "phase": "exit", "key": "check", "label": "A check", "kind": kind,
            "config": config, "position": 1}


def test_the_admin_accepts_a_valid_criterion(criterion_form, pipeline):
    stage = pipeline.stages.get(key="qualify")
    form = criterion_form(data=form_data(stage, "field", '{"field": "amount", "op": "gte", "value": 1000}'))
    assert form.is_valid(), form.errors
    form.save()
    assert stage.criteria.filter(key="check").exists()


def test_the_admin_refuses_a_criterion_naming_an_unknown_custom_field(criterion_form, pipeline):
    stage = pipeline.stages.get(key="qualify")
    form = criterion_form(data=form_data(stage, "field", '{"field": "custom.nope", "op": "set"}'))
    assert not form.is_valid()
    assert "unknown custom field 'nope'" in form.errors["config"][0]


def test_the_admin_accepts_a_custom_field_once_it_is_defined(criterion_form, pipeline):
    CustomField.objects.create(key="nope", label="Nope", type="boolean")
    form = criterion_form(data=form_data(pipeline.stages.get(key="qualify"), "field",
                                         '{"field": "custom.nope", "op": "true"}'))
    assert form.is_valid(), form.errors


def test_the_admin_refuses_an_unknown_builtin_field_and_lists_the_known_ones(criterion_form, pipeline):
    form = criterion_form(data=form_data(pipeline.stages.get(key="qualify"), "field", '{"field": "colour"}'))
    assert not form.is_valid()
    message = form.errors["config"][0]
    assert "unknown deal field 'colour'" in message and "expected_close_date" in message


def test_the_admin_refuses_a_comparison_without_a_value(criterion_form, pipeline):
    form = criterion_form(data=form_data(pipeline.stages.get(key="qualify"), "field",
                                         '{"field": "amount", "op": "gt"}'))
    assert not form.is_valid()
    assert "operator 'gt' needs a value" in form.errors["config"][0]


def test_the_admin_refuses_a_config_of_the_wrong_kind(criterion_form, pipeline):
    form = criterion_form(data=form_data(pipeline.stages.get(key="qualify"), "approval",
                                         '{"activity": "meeting"}'))
    assert not form.is_valid()
    assert "approval criterion" in form.errors["config"][0]


def test_the_stage_admin_refuses_a_bad_criterion_in_its_inline(world, pipeline):
    request = RequestFactory().get("/")
    request.user = world.dave
    stage_admin = admin.site._registry[Stage]
    stage = pipeline.stages.get(key="negotiate")
    inline = stage_admin.get_inline_instances(request, stage)[0]
    formset_class = inline.get_formset(request, stage)
    prefix = formset_class.get_default_prefix()
    data = {f"{prefix}-TOTAL_FORMS": "1", f"{prefix}-INITIAL_FORMS": "0",
            f"{prefix}-0-phase": "exit", f"{prefix}-0-key": "bad", f"{prefix}-0-label": "Bad",
            f"{prefix}-0-kind": "contact_role", f"{prefix}-0-config": '{"role": "janitor"}',
            f"{prefix}-0-position": "1"}
    formset = formset_class(data=data, instance=stage, prefix=prefix)
    assert not formset.is_valid()
    assert "role" in str(formset.errors[0]["config"])


def test_validate_criterion_accepts_every_shipped_template(db):
    for template in ("b2b-7", "b2b-9", "distributor-5"):
        create_pipeline_from_template(template)
    for criterion in Criterion.objects.all():
        validate_criterion(criterion.kind, criterion.config)
    assert check_criteria() == []


def test_validate_criterion_refuses_an_unknown_kind(db):
    with pytest.raises(CriterionConfigError, match="unknown criterion kind 'vibe'"):
        validate_criterion("vibe", {})


def test_the_system_check_names_the_pipeline_stage_and_criterion_of_a_bad_stored_config(pipeline):
    stage = pipeline.stages.get(key="propose")
    # Written behind the admin's back (as a raw import or a hand edit of the database would).
    Criterion.objects.filter(stage=stage, key="meeting").update(config={"activity": "meeting", "min_count": 0})
    Criterion.objects.create(stage=stage, phase="entry", key="size", label="Company size known", kind="field",
                             config={"field": "custom.headcount"})

    errors = check_criteria()

    assert [e.id for e in errors] == ["dealgate.pipelines.E001", "dealgate.pipelines.E001"]
    messages = " | ".join(e.msg for e in errors)
    assert "stage 'Propose'" in messages and "'Proposal meeting held'" in messages and "min_count" in messages
    assert "'Company size known'" in messages and "unknown custom field 'headcount'" in messages
    with pytest.raises(SystemCheckError, match="Proposal meeting held"):
        call_command("check", tags=["pipelines"])


def test_an_admin_sees_pipelines_with_stages_inline_and_stages_with_criteria_inline(client, world):
    pipeline = create_pipeline_from_template("b2b-7")
    proposal = pipeline.stages.get(key="proposal")
    client.force_login(world.dave)

    pipeline_page = client.get(f"/admin/pipelines/pipeline/{pipeline.pk}/change/").content.decode()
    stage_page = client.get(f"/admin/pipelines/stage/{proposal.pk}/change/").content.decode()

    assert "Solution Presentation" in pipeline_page and "Negotiation &amp; Closing" in pipeline_page
    assert "The proposal was sent by email" in stage_page and "Deal value is entered" in stage_page
    for url in ("/admin/pipelines/criterion/", "/admin/pipelines/lostreason/", "/admin/pipelines/customfield/"):
        assert client.get(url).status_code == 200, url


def test_a_rep_cannot_open_the_pipeline_admin(client, world):
    create_pipeline_from_template("b2b-7")
    client.force_login(world.alice)
    response = client.get("/admin/pipelines/pipeline/")
    assert response.status_code == 302 and "/admin/login/" in response["Location"]
