"""Admin edits of pipelines, stages and criteria through the API (issue #6).

They go through the Settings pages' services, so the rules are the same: admins only, every
field checked, a refusal writes nothing.
"""

from __future__ import annotations

import pytest

from dealgate.pipelines.models import Criterion, Pipeline, Stage

BASE = "/api/pipelines/test"


def send(client, method, path, headers, body=None):
    kwargs = {"headers": headers}
    if body is not None:
        kwargs |= {"data": body, "content_type": "application/json"}
    return getattr(client, method)(path, **kwargs)


def stage_row(key):
    return Stage.objects.get(pipeline__key="test", key=key)


def test_an_admin_renames_a_pipeline_and_unsent_fields_keep_their_value(client, world, pipeline, auth):
    Pipeline.objects.filter(pk=pipeline.pk).update(business_days=True, single_threaded_from=3)
    response = send(client, "patch", BASE, auth(world.dave), {"name": "New business"})
    assert response.status_code == 200, response.json()
    assert response.json()["name"] == "New business"
    pipeline.refresh_from_db()
    assert (pipeline.name, pipeline.business_days, pipeline.single_threaded_from) == ("New business", True, 3)


def test_null_turns_off_the_single_threaded_rule(client, world, pipeline, auth):
    Pipeline.objects.filter(pk=pipeline.pk).update(single_threaded_from=3)
    response = send(client, "patch", BASE, auth(world.dave), {"single_threaded_from": None, "business_days": True})
    assert response.status_code == 200, response.json()
    pipeline.refresh_from_db()
    assert (pipeline.single_threaded_from, pipeline.business_days, pipeline.name) == (None, True, "Test pipeline")


def test_an_admin_changes_a_stage_and_unsent_fields_keep_their_value(client, world, pipeline, auth):
    response = send(client, "patch", f"{BASE}/stages/propose", auth(world.dave), {"probability": 55, "goal": "Agree scope"})
    assert response.status_code == 200, response.json()
    body = response.json()
    assert (body["probability"], body["goal"], body["rot_days"]) == (55, "Agree scope", 10)
    stage = stage_row("propose")
    assert (stage.probability, stage.goal, stage.name, stage.exit_question) == (
        55, "Agree scope", "Propose", "Did the buyer meet us about the proposal?")


def test_null_removes_a_stages_idle_limit(client, world, pipeline, auth):
    response = send(client, "patch", f"{BASE}/stages/propose", auth(world.dave), {"rot_days": None})
    assert response.status_code == 200, response.json()
    assert stage_row("propose").rot_days is None


@pytest.mark.parametrize(("stage", "body", "field"), [
    ("propose", {"probability": 101}, "probability"),
    ("propose", {"rot_days": 0}, "rot_days"),
    ("propose", {"name": "  "}, "name"),
    ("propose", {"exit_question": "x" * 301}, "exit_question"),
    ("won", {"probability": 90}, "probability"),
])
def test_a_bad_stage_field_is_refused_with_its_name_and_nothing_is_written(client, world, pipeline, auth, stage, body,
                                                                            field):
    before = stage_row(stage)
    response = send(client, "patch", f"{BASE}/stages/{stage}", auth(world.dave), body)
    assert response.status_code == 422, response.json()
    assert response.json()["code"] == "validation_failed"
    assert field in response.json()["details"]
    after = stage_row(stage)
    assert (after.name, after.probability, after.rot_days, after.exit_question) == (
        before.name, before.probability, before.rot_days, before.exit_question)


def test_an_admin_moves_a_stage_up_and_gets_the_new_order(client, world, pipeline, auth):
    response = send(client, "post", f"{BASE}/stages/propose/move", auth(world.dave), {"direction": "up"})
    assert response.status_code == 200, response.json()
    assert [s["key"] for s in response.json()["stages"]] == ["propose", "qualify", "negotiate", "won", "lost"]
    assert list(Stage.objects.filter(pipeline=pipeline).order_by("position").values_list("key", flat=True)) == [
        "propose", "qualify", "negotiate", "won", "lost"]


@pytest.mark.parametrize("stage", ["won", "lost"])
def test_won_and_lost_cannot_be_moved(client, world, pipeline, auth, stage):
    before = list(Stage.objects.filter(pipeline=pipeline).order_by("position").values_list("key", flat=True))
    response = send(client, "post", f"{BASE}/stages/{stage}/move", auth(world.dave), {"direction": "up"})
    assert response.status_code == 422, response.json()
    assert "stage" in response.json()["details"]
    assert list(Stage.objects.filter(pipeline=pipeline).order_by("position").values_list("key", flat=True)) == before


def test_a_direction_other_than_up_or_down_is_refused(client, world, pipeline, auth):
    response = send(client, "post", f"{BASE}/stages/propose/move", auth(world.dave), {"direction": "sideways"})
    assert response.status_code == 422
    assert "direction" in response.json()["details"]


def test_an_admin_adds_a_criterion(client, world, pipeline, auth):
    body = {"phase": "exit", "key": "champion", "label": "Champion named", "kind": "contact_role",
            "config": {"role": "champion"}}
    response = send(client, "post", f"{BASE}/stages/negotiate/criteria", auth(world.dave), body)
    assert response.status_code == 201, response.json()
    assert response.json() == {"key": "champion", "label": "Champion named", "kind": "contact_role", "phase": "exit",
                               "config": {"role": "champion"}}
    assert Criterion.objects.get(stage=stage_row("negotiate"), key="champion").config == {"role": "champion"}


@pytest.mark.parametrize(("body", "field"), [
    ({"config": {"field": "no_such_field", "op": "gt", "value": 0}}, "config"),
    ({"config": {"field": "custom.nobody_defined", "op": "set"}}, "config"),
    ({"key": "amount", "phase": "exit", "stage": "qualify"}, "key"),
    ({"kind": "telepathy"}, "kind"),
    # PostgreSQL's jsonb cannot hold a NUL character: refused before the database sees it.
    ({"kind": "checklist", "config": {"item": "budget", "group": "BANT\x00"}}, "config"),
])
def test_a_bad_criterion_is_refused_and_nothing_is_written(client, world, pipeline, auth, body, field):
    stage = body.pop("stage", "negotiate")
    full = {"phase": "exit", "key": "new-one", "label": "Something", "kind": "field",
            "config": {"field": "amount", "op": "gt", "value": 0}} | body
    before = list(Criterion.objects.order_by("pk").values_list("pk", "key", "label", "config"))
    response = send(client, "post", f"{BASE}/stages/{stage}/criteria", auth(world.dave), full)
    assert response.status_code == 422, response.json()
    assert set(response.json()) == {"code", "message", "details"}
    assert field in response.json()["details"]
    assert list(Criterion.objects.order_by("pk").values_list("pk", "key", "label", "config")) == before


def test_an_admin_changes_a_criterions_label_and_keeps_its_config(client, world, pipeline, auth):
    response = send(client, "patch", f"{BASE}/stages/qualify/criteria/budget", auth(world.dave), {"label": "Budget signed"})
    assert response.status_code == 200, response.json()
    criterion = Criterion.objects.get(stage=stage_row("qualify"), key="budget")
    assert (criterion.label, criterion.config) == ("Budget signed", {"item": "budget", "group": "BANT"})


def test_a_bad_config_on_update_is_refused_and_nothing_is_written(client, world, pipeline, auth):
    response = send(client, "patch", f"{BASE}/stages/qualify/criteria/amount", auth(world.dave),
                    {"label": "Changed", "config": {"field": "amount", "op": "between"}})
    assert response.status_code == 422, response.json()
    assert "config" in response.json()["details"]
    criterion = Criterion.objects.get(stage=stage_row("qualify"), key="amount")
    assert (criterion.label, criterion.config) == ("Amount estimated", {"field": "amount", "op": "gt", "value": 0})


def test_an_admin_removes_a_criterion(client, world, pipeline, auth):
    response = send(client, "delete", f"{BASE}/stages/qualify/criteria/budget", auth(world.dave))
    assert response.status_code == 204
    assert response.content == b""
    assert not Criterion.objects.filter(stage=stage_row("qualify"), key="budget").exists()
    assert Criterion.objects.filter(stage=stage_row("qualify"), key="amount").exists()


def test_a_key_used_in_both_phases_needs_the_phase(client, world, pipeline, auth):
    Criterion.objects.create(stage=stage_row("qualify"), phase="entry", key="budget", label="Budget known",
                             kind="checklist", config={"item": "budget"})
    ambiguous = send(client, "delete", f"{BASE}/stages/qualify/criteria/budget", auth(world.dave))
    assert ambiguous.status_code == 422
    assert "phase" in ambiguous.json()["details"]
    assert Criterion.objects.filter(stage=stage_row("qualify"), key="budget").count() == 2
    chosen = send(client, "delete", f"{BASE}/stages/qualify/criteria/budget?phase=entry", auth(world.dave))
    assert chosen.status_code == 204
    assert list(Criterion.objects.filter(stage=stage_row("qualify"), key="budget").values_list("phase", flat=True)) == [
        "exit"]


WRITES = [
    ("patch", BASE, {"name": "Renamed"}),
    ("patch", f"{BASE}/stages/propose", {"probability": 55}),
    ("post", f"{BASE}/stages/propose/move", {"direction": "up"}),
    ("post", f"{BASE}/stages/negotiate/criteria",
     {"phase": "exit", "key": "champion", "label": "Champion", "kind": "contact_role", "config": {"role": "champion"}}),
    ("patch", f"{BASE}/stages/qualify/criteria/budget", {"label": "Changed"}),
    ("delete", f"{BASE}/stages/qualify/criteria/budget", None),
]
WRITE_IDS = [f"{m.upper()} {p}" for m, p, _ in WRITES]


def snapshot():
    return (list(Pipeline.objects.values_list("key", "name", "business_days", "single_threaded_from")),
            list(Stage.objects.order_by("pk").values_list("key", "name", "position", "probability", "rot_days")),
            list(Criterion.objects.order_by("pk").values_list("key", "phase", "label", "config")))


@pytest.mark.parametrize("who", ["alice", "bob"])
@pytest.mark.parametrize(("method", "path", "body"), WRITES, ids=WRITE_IDS)
def test_reps_and_managers_are_refused_and_nothing_changes(client, world, pipeline, auth, who, method, path, body):
    before = snapshot()
    response = send(client, method, path, auth(getattr(world, who)), body)
    assert response.status_code == 403, response.json()
    assert response.json()["code"] == "not_allowed"
    assert snapshot() == before


NOT_FOUND = [
    ("patch", "/api/pipelines/nope", {"name": "Renamed"}, "pipeline"),
    ("patch", "/api/pipelines/nope/stages/propose", {"probability": 55}, "pipeline"),
    ("patch", f"{BASE}/stages/nope", {"probability": 55}, "stage"),
    ("post", f"{BASE}/stages/nope/move", {"direction": "up"}, "stage"),
    ("post", f"{BASE}/stages/nope/criteria",
     {"phase": "exit", "key": "x", "label": "X", "kind": "contact_role", "config": {"role": "champion"}}, "stage"),
    ("patch", f"{BASE}/stages/qualify/criteria/nope", {"label": "X"}, "criterion"),
    ("delete", f"{BASE}/stages/qualify/criteria/nope", None, "criterion"),
    # A criterion of another stage is not found through this one.
    ("delete", f"{BASE}/stages/propose/criteria/budget", None, "criterion"),
]


@pytest.mark.parametrize(("method", "path", "body", "missing"), NOT_FOUND, ids=[f"{m.upper()} {p}" for m, p, _, _ in NOT_FOUND])
def test_unknown_keys_answer_404_and_nothing_changes(client, world, pipeline, auth, method, path, body, missing):
    before = snapshot()
    response = send(client, method, path, auth(world.dave), body)
    assert response.status_code == 404, response.json()
    assert response.json()["code"] == "not_found"
    assert missing in response.json()["details"]
    assert snapshot() == before


def test_the_auth_matrix_bodies_for_pipeline_edits_succeed_for_an_admin(client, world, pipeline, auth):
    """The auth matrix promises bodies that would succeed for the right caller; for these, that is an admin."""
    from tests.api.test_api_auth import ENDPOINTS

    edits = [e for e in ENDPOINTS if e[1].startswith("/api/pipelines/") and e[0] != "get"]
    assert len(edits) == 11
    # Removing a stage goes last: the other edits name that stage.
    edits.sort(key=lambda e: e[0] == "delete" and e[1].rstrip("/").split("/")[-2] == "stages")
    for method, path, body in edits:
        response = send(client, method, path, auth(world.dave), body)
        assert response.status_code in (200, 201, 204), (method, path, response.content)


def test_reordering_a_pipeline_with_an_open_stage_after_lost_is_refused_naming_it(client, world, pipeline, auth):
    Stage.objects.create(pipeline=pipeline, key="late", name="Late", position=6, probability=90)
    response = send(client, "post", f"{BASE}/stages/propose/move", auth(world.dave), {"direction": "up"})
    assert response.status_code == 422
    assert "open stage 'Late' (position 6) comes after 'Won' (position 4)" in response.json()["details"]["stages"][0]
    assert list(pipeline.stages.order_by("position").values_list("key", flat=True)) == [
        "qualify", "propose", "negotiate", "won", "lost", "late"]


def test_an_admin_adds_a_stage_and_removes_it_again_through_the_api(client, world, pipeline, auth):
    """Added after Propose (position 2): it takes position 3, Negotiate/Won/Lost move to 4/5/6; "single-threaded
    from 3" (Negotiate) follows Negotiate to 4. Removed again: back to 3, and the positions close up."""
    Pipeline.objects.filter(pk=pipeline.pk).update(single_threaded_from=3)
    response = send(client, "post", f"{BASE}/stages", auth(world.dave),
                    {"name": "Legal review", "probability": 70, "after": "propose"})
    assert response.status_code == 201, response.json()
    assert (response.json()["key"], response.json()["position"]) == ("legal-review", 3)
    assert list(Stage.objects.filter(pipeline=pipeline).values_list("key", "position")) == [
        ("qualify", 1), ("propose", 2), ("legal-review", 3), ("negotiate", 4), ("won", 5), ("lost", 6)]
    pipeline.refresh_from_db()
    assert pipeline.single_threaded_from == 4
    assert send(client, "delete", f"{BASE}/stages/legal-review", auth(world.dave)).status_code == 204
    assert list(Stage.objects.filter(pipeline=pipeline).values_list("key", "position")) == [
        ("qualify", 1), ("propose", 2), ("negotiate", 3), ("won", 4), ("lost", 5)]
    pipeline.refresh_from_db()
    assert pipeline.single_threaded_from == 3


def test_removing_a_stage_a_deal_passed_through_is_refused_and_reps_cannot_add_stages(client, world, pipeline, auth,
                                                                                     make_deal):
    """One deal moved Qualify -> Propose: Qualify has 0 deals now and 1 whose history passes through it."""
    from dealgate.deals.services import move_deal

    deal = make_deal(amount=1000)
    Criterion.objects.filter(stage__pipeline=pipeline).delete()
    move_deal(deal, "propose", by=world.alice)
    refused = send(client, "delete", f"{BASE}/stages/qualify", auth(world.dave))
    assert refused.status_code == 422
    assert "Qualify cannot be removed: 1 deal passed through it" in refused.json()["message"]
    assert send(client, "post", f"{BASE}/stages", auth(world.alice), {"name": "X", "probability": 5}).status_code == 403
    assert Stage.objects.filter(pipeline=pipeline).count() == 5


def test_an_admin_retires_a_stage_moving_its_deals_through_the_gates_and_restores_it(client, world, pipeline, auth,
                                                                                    make_deal):
    """The gates refuse the move (Qualify's exit criteria): 422 naming the deal, nothing written; with a reason
    the move is an override in the deal's history, by the token's user; then the stage reads retired."""
    from dealgate.audit.models import AuditEntry
    from dealgate.deals.models import StageHistory

    deal = make_deal(title="Acme")
    missing = send(client, "post", f"{BASE}/stages/qualify/retire", auth(world.dave), {})
    assert missing.status_code == 422 and "move_deals_to" in missing.json()["details"]
    refused = send(client, "post", f"{BASE}/stages/qualify/retire", auth(world.dave), {"move_deals_to": "propose"})
    assert refused.status_code == 422
    body = refused.json()
    assert body["details"]["refused"][0]["deal"] == deal.pk
    assert {u["label"] for u in body["details"]["refused"][0]["unmet"]} >= {"Amount estimated", "Budget confirmed"}
    assert stage_row("qualify").retired_at is None and not StageHistory.objects.filter(to_stage__key="propose").exists()
    done = send(client, "post", f"{BASE}/stages/qualify/retire", auth(world.dave),
                {"move_deals_to": "propose", "override_reason": "Qualify merged into Propose"})
    assert done.status_code == 200, done.json()
    assert (done.json()["key"], done.json()["retired"]) == ("qualify", True)
    row = StageHistory.objects.get(deal=deal, to_stage__key="propose")
    assert (row.by, row.override, row.override_reason) == (world.dave, True, "Qualify merged into Propose")
    assert AuditEntry.objects.get(object_type="stage", action="retired").surface == "api"
    listed = send(client, "get", BASE, auth(world.alice)).json()
    assert [(s["key"], s["retired"]) for s in listed["stages"]][:2] == [("qualify", True), ("propose", False)]
    moved_back = send(client, "post", f"/api/deals/{deal.pk}/move", auth(world.dave), {"stage": "qualify"})
    assert moved_back.status_code == 422 and "Qualify is retired" in moved_back.json()["message"]
    restored = send(client, "post", f"{BASE}/stages/qualify/restore", auth(world.dave))
    assert (restored.status_code, restored.json()["retired"]) == (200, False)
    again = send(client, "post", f"{BASE}/stages/qualify/restore", auth(world.dave))
    assert again.status_code == 422 and "not retired" in again.json()["message"]


@pytest.mark.parametrize(("body", "status", "says"), [
    ({"move_deals_to": "propose\x00"}, 422, "move_deals_to"),
    ({"move_deals_to": "p" * 100_000}, 422, "move_deals_to"),
    ({"move_deals_to": "٣"}, 422, "move_deals_to"),
    ({"move_deals_to": "won"}, 422, "other than Qualify that is not retired"),
    ({"override_reason": "x" * 100_000}, 422, "override_reason"),
    ({"override_reason": "nul\x00"}, 422, "override_reason"),
    ({"move_to": "propose"}, 422, "move_to"),
])
def test_retire_refuses_hostile_bodies_with_nothing_written(client, world, pipeline, auth, make_deal, body, status,
                                                            says):
    make_deal()
    response = send(client, "post", f"{BASE}/stages/qualify/retire", auth(world.dave), body)
    assert response.status_code == status, response.json()
    assert says in str(response.json())
    assert stage_row("qualify").retired_at is None


def test_the_stage_order_is_put_in_one_step_and_a_wrong_list_is_refused_naming_what(client, world, pipeline, auth):
    order = send(client, "put", f"{BASE}/stage-order", auth(world.dave), {"stages": ["negotiate", "qualify", "propose"]})
    assert order.status_code == 200, order.json()
    assert [s["key"] for s in order.json()["stages"]] == ["negotiate", "qualify", "propose", "won", "lost"]
    for stages, says in ((["qualify", "propose"], "negotiate missing"), (["qualify", "qualify", "propose"], "more than once"),
                         (["qualify", "propose", "negotiate", "won"], "'won' is not an open stage"),
                         (["qualify", "propose", "٣"], "stages"), (["a\x00"], "stages")):
        refused = send(client, "put", f"{BASE}/stage-order", auth(world.dave), {"stages": stages})
        assert refused.status_code == 422 and says in str(refused.json()), (stages, refused.json())
    assert send(client, "put", f"{BASE}/stage-order", auth(world.bob),
                {"stages": ["qualify", "propose", "negotiate"]}).status_code == 403
    assert list(pipeline.stages.order_by("position").values_list("key", flat=True))[:3] == [
        "negotiate", "qualify", "propose"]
