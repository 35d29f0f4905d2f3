"""The rules API: admins only; the same rule service and checks as the settings form."""

from __future__ import annotations

from dealgate.audit.models import AuditEntry
from dealgate.automation.models import Rule
from tests.api.conftest import auth, token_for  # noqa: F401  (fixtures)

RULE = {"name": "Follow up", "trigger": "stage_entered", "trigger_stage": "propose", "pipeline": "test",
        "actions": [{"type": "create_task", "title": "Send the proposal", "due_in_days": 3},
                    {"type": "notify", "to": "owner", "title": "{deal} is in Propose"}]}


def _post(client, body, headers):
    return client.post("/api/rules", body, content_type="application/json", headers=headers)


def test_an_admin_creates_lists_changes_and_deletes_a_rule(client, world, pipeline, auth):  # noqa: F811
    created = _post(client, RULE, auth(world.dave))
    assert created.status_code == 201, created.content
    body = created.json()
    assert (body["pipeline"], body["trigger_stage"], body["enabled"]) == ("test", "propose", True)
    assert body["actions"][0] == {"type": "create_task", "title": "Send the proposal", "due_in_days": 3,
                                  "business_days": False, "assignee": "owner"}
    assert [r["id"] for r in client.get("/api/rules", headers=auth(world.dave)).json()] == [body["id"]]
    patched = client.patch(f"/api/rules/{body['id']}", {"enabled": False, "pipeline": None,
                                                       "conditions": {"owners": ["alice"]}},
                           content_type="application/json", headers=auth(world.dave))
    assert patched.status_code == 200, patched.content
    assert (patched.json()["enabled"], patched.json()["pipeline"], patched.json()["conditions"]) == (
        False, None, {"owners": ["alice"]})
    assert client.delete(f"/api/rules/{body['id']}", headers=auth(world.dave)).status_code == 204
    assert not Rule.objects.exists()
    surfaces = set(AuditEntry.objects.filter(object_type="rule").values_list("action", "surface"))
    assert {("created", "api"), ("changed", "api"), ("deleted", "api")} <= surfaces


def test_a_rule_naming_a_missing_stage_is_refused_with_where(client, world, pipeline, auth):  # noqa: F811
    refused = _post(client, {**RULE, "actions": [{"type": "move_to_stage", "stage": "gone"}]}, auth(world.dave))
    assert refused.status_code == 422
    assert refused.json()["details"] == {"actions.0.stage": ["no stage 'gone' in pipeline 'test'"]}
    unknown = _post(client, {**RULE, "colour": "red"}, auth(world.dave))
    assert unknown.status_code == 422
    nowhere = _post(client, {**RULE, "pipeline": "nowhere"}, auth(world.dave))
    assert nowhere.status_code == 404
    nulled = _post(client, RULE, auth(world.dave)).json()
    assert client.patch(f"/api/rules/{nulled['id']}", {"name": None}, content_type="application/json",
                        headers=auth(world.dave)).status_code == 422
    assert Rule.objects.count() == 1


def test_a_new_rule_may_not_name_a_retired_stage_one_that_had_it_keeps_it(client, world, pipeline, auth):  # noqa: F811
    """Decision 036: no deal enters, sits in or moves to a retired stage, so a rule naming one is refused
    with a 422 saying what to do; a rule saved before the stage was retired is still edited freely."""
    from dealgate.web.pipeline_settings import retire_stage

    kept = _post(client, RULE, auth(world.dave)).json()
    retire_stage(pipeline.stages.get(key="propose"), by=world.dave)
    refused = _post(client, {**RULE, "conditions": {"stages": ["propose"]},
                             "actions": [{"type": "move_to_stage", "stage": "propose"}]}, auth(world.dave))
    assert refused.status_code == 422
    why = "stage 'Propose' is retired: no deal can {}; restore it in settings or choose another stage"
    assert refused.json()["details"] == {"trigger_stage": [why.format("enter it")],
                                         "conditions.stages": [why.format("be in it")],
                                         "actions.0.stage": [why.format("be moved to it")]}
    renamed = client.patch(f"/api/rules/{kept['id']}", {"name": "Follow up (old)"},
                           content_type="application/json", headers=auth(world.dave))
    assert renamed.status_code == 200, renamed.content
    added = client.patch(f"/api/rules/{kept['id']}", {"conditions": {"stages": ["propose"]}},
                         content_type="application/json", headers=auth(world.dave))
    assert added.status_code == 422  # kept in the trigger, where the rule had it; refused anywhere new
    assert added.json()["details"] == {"conditions.stages": [why.format("be in it")]}
    assert client.patch(f"/api/rules/{kept['id']}", {"actions": [{"type": "move_to_stage", "stage": "negotiate"}],
                                                     "trigger_stage": "qualify"},
                        content_type="application/json", headers=auth(world.dave)).status_code == 200
    assert Rule.objects.count() == 1


def test_reps_and_managers_may_not_read_or_change_rules(client, world, pipeline, auth):  # noqa: F811
    rule = _post(client, RULE, auth(world.dave)).json()
    for person in (world.alice, world.bob):
        assert client.get("/api/rules", headers=auth(person)).status_code == 403
        assert _post(client, RULE, auth(person)).status_code == 403
        assert client.patch(f"/api/rules/{rule['id']}", {"name": "x"}, content_type="application/json",
                            headers=auth(person)).status_code == 403
        assert client.delete(f"/api/rules/{rule['id']}", headers=auth(person)).status_code == 403
    assert Rule.objects.get().name == "Follow up"


def test_an_admin_creates_a_signal_rule_and_a_deal_action_on_it_is_refused(client, world, auth):  # noqa: F811
    rule = {"name": "Missed reorders", "trigger": "signal_raised",
            "conditions": {"signal_kinds": ["missed_reorder"], "revenue_min": "1000"},
            "actions": [{"type": "notify", "to": "manager", "title": "{kind} at {account}"}, {"type": "convert_to_deal"}]}
    created = _post(client, rule, auth(world.dave))
    assert created.status_code == 201, created.content
    assert created.json()["description"] == ("Signal raised on an account if kind in missed reorder and revenue ≥ "
                                             "1000: notify the account owner's manager: {kind} at {account}; "
                                             "convert the signal to a deal")
    refused = _post(client, {**rule, "actions": [{"type": "webhook", "url": "https://example.com/h",
                                                  "secret": "0123456789abcdef"}]}, auth(world.dave))
    assert refused.status_code == 422
    assert refused.json()["details"] == {"actions.0.type": [
        "a signal rule can only create_task, notify, convert_to_deal (there is no deal to webhook)"]}
