"""Admins create, edit and delete rules with a form in settings: no JSON, checked by the rule service."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from dealgate.audit.models import AuditEntry
from dealgate.automation import services
from dealgate.automation.models import Rule
from dealgate.pipelines.models import CustomField

NEW = reverse("automation:rule_new")


def _form(**changes):
    """A filled form as the browser posts it: entered Propose -> a task and a notification to the owner."""
    data = {
        "name": "Follow up on proposals", "trigger": "stage_entered", "trigger_stage": "propose", "idle_days": "",
        "pipeline": "test", "amount_min": "", "amount_max": "", "field-0-key": "", "field-0-value": "",
        "action-0-type": "create_task", "action-0-task_title": "Send the proposal", "action-0-due_in_days": "3",
        "action-0-assignee": "owner", "action-0-to": "owner", "action-0-kind": "alert",
        "action-1-type": "notify", "action-1-to": "owner", "action-1-kind": "alert",
        "action-1-notify_title": "{deal} entered Propose", "action-1-body": "", "action-1-due_in_days": "0",
        "action-2-type": "", "action-2-task_title": "",
    }
    data.update(changes)
    return {k: v for k, v in data.items() if v is not None}


def _error_next_to(html: str, name: str) -> str:
    """The message(s) shown inside the label of the input named `name`."""
    found = re.search(rf'name="{re.escape(name)}"[^<]*(?:<(?!/label)[^<]*)*', html)
    assert found, f"no input {name}"
    return " ".join(re.findall(r'class="field-error" role="alert">([^<]*)<', found.group(0)))


@pytest.fixture
def admin(client, world, pipeline):
    client.force_login(world.dave)
    return client


def test_it_creates_a_rule_from_the_form_and_logs_it(admin, world):
    response = admin.post(NEW, _form(**{"action-0-business_days": "on"}))
    assert response.status_code == 302 and response.url == reverse("automation:rules")
    rule = Rule.objects.get()
    assert (rule.name, rule.trigger, rule.trigger_stage, rule.pipeline.key) == (
        "Follow up on proposals", "stage_entered", "propose", "test")
    assert rule.conditions == {}
    assert rule.actions == [
        {"type": "create_task", "title": "Send the proposal", "due_in_days": 3, "business_days": True,
         "assignee": "owner"},
        {"type": "notify", "to": "owner", "kind": "alert", "title": "{deal} entered Propose", "body": ""},
    ]
    entry = AuditEntry.objects.get(object_type="rule", object_id=rule.pk)
    assert (entry.action, entry.by, entry.surface) == ("created", world.dave, "web")
    assert "task 'Send the proposal'" in entry.after


def test_it_stores_the_conditions_chosen_in_the_form(admin, world):
    CustomField.objects.create(key="seats", label="Seats", type="number")
    response = admin.post(NEW, _form(stages=["qualify", "propose"], owners=["alice"], teams=["East"],
                                     sources=["inbound", "referral"], amount_min="1000", amount_max="5000",
                                     **{"field-0-key": "seats", "field-0-value": "25"}))
    assert response.status_code == 302
    assert Rule.objects.get().conditions == {
        "stages": ["qualify", "propose"], "owners": ["alice"], "teams": ["East"], "sources": ["inbound", "referral"],
        "amount_min": "1000.00", "amount_max": "5000.00", "fields": {"seats": 25}}


def test_a_stage_the_pipeline_does_not_have_is_refused_next_to_it_and_nothing_typed_is_lost(admin):
    response = admin.post(NEW, _form(trigger_stage="nowhere", **{"action-2-type": "move_to_stage",
                                                                "action-2-stage": "gone"}))
    assert response.status_code == 422
    html = response.content.decode()
    assert _error_next_to(html, "trigger_stage") == "no stage &#x27;nowhere&#x27; in pipeline &#x27;test&#x27;"
    assert not Rule.objects.exists()
    assert 'value="Follow up on proposals"' in html and 'value="Send the proposal"' in html
    assert 'value="{deal} entered Propose"' in html


def test_a_missing_stage_in_an_action_is_shown_on_that_action(admin):
    response = admin.post(NEW, _form(**{"action-0-type": "", "action-2-type": "move_to_stage",
                                        "action-2-stage": "gone"}))
    assert response.status_code == 422
    assert _error_next_to(response.content.decode(), "action-2-stage") == \
        "no stage &#x27;gone&#x27; in pipeline &#x27;test&#x27;"


def test_a_missing_custom_field_in_set_field_is_shown_on_that_action(admin):
    response = admin.post(NEW, _form(**{"action-1-type": "set_field", "action-1-field": "custom.region",
                                        "action-1-value": "north"}))
    assert response.status_code == 422
    assert _error_next_to(response.content.decode(), "action-1-field") == "no custom field &#x27;region&#x27;"


@pytest.mark.parametrize("field, value, message", [
    ("idle_days", "ten", "must be a whole number from 1 to 3650"),
    ("amount_min", "lots", "&#x27;lots&#x27; is not a number"),
    ("action-0-due_in_days", "-1", "must be a whole number from 0 to 365"),
    ("action-0-task_title", "  ", "a task needs a title"),
    ("name", "\x00", "contains a NUL character"),
    ("pipeline", "no-such", "there is no pipeline &#x27;no-such&#x27;"),
])
def test_input_it_cannot_read_is_refused_next_to_its_field(admin, field, value, message):
    changes = {field: value}
    if field == "idle_days":
        changes.update(trigger="deal_idle", trigger_stage="")
    response = admin.post(NEW, _form(**changes))
    assert response.status_code == 422
    assert message in _error_next_to(response.content.decode(), field)
    assert not Rule.objects.exists()


def test_a_rule_without_any_action_is_refused(admin):
    response = admin.post(NEW, _form(**{"action-0-type": "", "action-1-type": ""}))
    assert response.status_code == 422
    assert "choose what the rule does" in _error_next_to(response.content.decode(), "action-0-type")


def test_add_another_action_posts_back_one_more_row_and_saves_nothing(admin):
    response = admin.post(NEW, _form(add_action="1"))
    assert response.status_code == 200
    html = response.content.decode()
    assert 'name="action-3-type"' in html and 'name="action-4-type"' not in html
    assert 'value="Send the proposal"' in html
    assert not Rule.objects.exists()


def test_the_edit_form_shows_the_rule_and_saves_changes_through_the_service(admin, world, pipeline):
    rule = services.create_rule(by=world.dave, name="Follow up", trigger="stage_entered", trigger_stage="propose",
                                pipeline=pipeline, conditions={"owners": ["alice"]},
                                actions=[{"type": "create_task", "title": "Call", "due_in_days": 2}])
    url = reverse("automation:rule_edit", args=[rule.pk])
    html = admin.get(url).content.decode()
    assert 'value="Call"' in html and '<option value="alice" selected>' in html
    assert '<option value="propose" selected>' in html
    response = admin.post(url, _form(name="Follow up fast", trigger="deal_idle", trigger_stage="propose",
                                     idle_days="7", **{"action-1-type": ""}))
    assert response.status_code == 302
    rule.refresh_from_db()
    assert (rule.name, rule.trigger, rule.trigger_stage, rule.idle_days) == ("Follow up fast", "deal_idle", "", 7)
    assert rule.conditions == {} and [a["title"] for a in rule.actions] == ["Send the proposal"]
    changed = set(AuditEntry.objects.filter(object_id=rule.pk, action="changed").values_list("field", flat=True))
    assert {"name", "trigger", "trigger_stage", "idle_days", "conditions", "actions"} <= changed


def test_a_refused_edit_changes_nothing(admin, world, pipeline):
    rule = services.create_rule(by=world.dave, name="Follow up", trigger="deal_created", pipeline=pipeline,
                                actions=[{"type": "create_task", "title": "Call"}])
    response = admin.post(reverse("automation:rule_edit", args=[rule.pk]), _form(trigger_stage="gone"))
    assert response.status_code == 422
    rule.refresh_from_db()
    assert (rule.name, rule.trigger) == ("Follow up", "deal_created")


def test_delete_asks_first_then_removes_the_rule_and_logs_it(admin, world, pipeline):
    rule = services.create_rule(by=world.dave, name="Follow up", trigger="deal_created", pipeline=pipeline,
                                actions=[{"type": "create_task", "title": "Call"}])
    url = reverse("automation:rule_delete", args=[rule.pk])
    assert "Delete rule: Follow up?" in admin.get(url).content.decode()
    assert Rule.objects.filter(pk=rule.pk).exists()
    assert admin.post(url).status_code == 302
    assert not Rule.objects.exists()
    assert AuditEntry.objects.filter(object_type="rule", object_id=rule.pk, action="deleted").exists()


def test_reps_and_managers_may_not_create_edit_or_delete_rules(client, world, pipeline):
    rule = services.create_rule(by=world.dave, name="Follow up", trigger="deal_created", pipeline=pipeline,
                                actions=[{"type": "create_task", "title": "Call"}])
    for person in (world.alice, world.bob):
        client.force_login(person)
        assert client.post(NEW, _form()).status_code == 403
        assert client.post(reverse("automation:rule_edit", args=[rule.pk]), _form(name="x")).status_code == 403
        assert client.post(reverse("automation:rule_delete", args=[rule.pk])).status_code == 403
    assert list(Rule.objects.values_list("name", flat=True)) == ["Follow up"]


def test_switching_a_rule_off_is_in_the_audit_log(admin, world, pipeline):
    rule = services.create_rule(by=world.dave, name="Follow up", trigger="deal_created", pipeline=pipeline,
                                actions=[{"type": "create_task", "title": "Call"}])
    admin.post(reverse("automation:rule_enabled", args=[rule.pk]), {"enabled": "0"})
    entry = AuditEntry.objects.get(object_id=rule.pk, action="changed")
    assert (entry.field, entry.before, entry.after, entry.surface) == ("enabled", "yes", "no", "web")


def test_a_webhook_action_is_made_in_the_form_and_its_secret_is_never_shown_back(admin, world, pipeline):
    secret = "s3cret-for-the-erp-0042"
    response = admin.post(NEW, _form(**{"action-1-type": "webhook", "action-1-url": "https://erp.example.com/hook",
                                        "action-1-secret": secret}))
    assert response.status_code == 302
    rule = Rule.objects.get()
    assert rule.actions[1] == {"type": "webhook", "url": "https://erp.example.com/hook", "secret": secret}
    url = reverse("automation:rule_edit", args=[rule.pk])
    html = admin.get(url).content.decode()
    assert 'value="https://erp.example.com/hook"' in html and secret not in html and "0042" in html
    # saved again with the secret left empty: the address changes, the secret stays
    response = admin.post(url, _form(**{"action-1-type": "webhook", "action-1-url": "https://erp.example.com/v2",
                                        "action-1-secret": ""}))
    assert response.status_code == 302
    rule.refresh_from_db()
    assert rule.actions[1] == {"type": "webhook", "url": "https://erp.example.com/v2", "secret": secret}
    logged = " ".join(f"{e.before} {e.after}" for e in AuditEntry.objects.filter(object_type="rule"))
    assert secret not in logged and "erp.example.com/v2" in logged
    api = admin.get("/api/rules")  # the session signs the API in too
    assert api.status_code == 200 and api.json()[0]["actions"][1]["url"] == "https://erp.example.com/v2"
    assert secret not in api.content.decode()


def test_a_bad_webhook_address_is_refused_next_to_it(admin):
    response = admin.post(NEW, _form(**{"action-1-type": "webhook", "action-1-url": "ftp://erp.example.com/",
                                        "action-1-secret": "s3cret-for-the-erp-0042"}))
    assert response.status_code in (400, 422) and not Rule.objects.exists()
    assert "http" in _error_next_to(response.content.decode(), "action-1-url")


def test_retired_stages_leave_the_pickers_and_a_rule_that_names_one_says_it_cannot_fire(admin, world, pipeline):
    """Decision 036: the form offers no retired stage; a rule saved before keeps showing its stage, marked
    "(retired)", and the rules list and the dry run say it can no longer fire for it."""
    from dealgate.web.pipeline_settings import retire_stage

    assert admin.post(NEW, _form()).status_code == 302
    rule = Rule.objects.get()
    retire_stage(pipeline.stages.get(key="propose"), by=world.dave)
    blank = admin.get(NEW).content.decode()
    assert 'value="propose"' not in blank and 'value="negotiate"' in blank
    edit = admin.get(reverse("automation:rule_edit", args=[rule.pk])).content.decode()
    assert '<option value="propose" selected>Propose (retired)</option>' in edit
    assert edit.count('value="propose"') == 1  # only the trigger names it: the other pickers leave it out
    note = "Propose is retired: this rule can no longer fire for it. Restore the stage in settings or edit the rule."
    assert note in edit
    moved = admin.post(reverse("automation:rule_edit", args=[rule.pk]), _form(**{"stages": "propose"}))
    assert moved.status_code == 422  # kept where the rule had it, refused anywhere new
    assert "no deal can be in it" in _error_next_to(moved.content.decode(), "stages")
    assert note in admin.get(reverse("automation:rules")).content.decode()
    assert note in admin.get(reverse("automation:rule_test", args=[rule.pk])).content.decode()
    refused = admin.post(NEW, _form(name="Another"))
    assert refused.status_code == 422 and "stage &#x27;Propose&#x27; is retired: no deal can enter it" in (
        _error_next_to(refused.content.decode(), "trigger_stage"))
    assert admin.post(reverse("automation:rule_edit", args=[rule.pk]), _form(name="Renamed")).status_code == 302
