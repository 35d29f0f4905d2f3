"""Settings pages: admins edit stages (order, probability, idle limit, exit question) and criteria."""

from __future__ import annotations

from django.urls import reverse

from dealgate.pipelines.models import Criterion, Stage


def _url(action, target=None):
    args = ["test", action] + ([target] if target is not None else [])
    return reverse("web:settings_action", args=args)


def test_an_admin_edits_a_stage_and_sees_errors_next_to_it(client, world, pipeline):
    client.force_login(world.dave)
    propose = pipeline.stages.get(key="propose")
    data = {"name": "Proposal", "probability": "65", "rot_days": "12", "exit_question": "Did they read it?"}
    assert client.post(_url("stage", propose.pk), data).status_code == 302
    propose.refresh_from_db()
    assert (propose.name, propose.probability, propose.rot_days, propose.exit_question) == (
        "Proposal", 65, 12, "Did they read it?")
    response = client.post(_url("stage", propose.pk), {**data, "probability": "140"})
    assert response.status_code == 422
    html = response.content.decode()
    assert "must be between 0 and 100" in html
    assert html.index("must be between 0 and 100") > html.index(f'id="stage-{propose.pk}"')


def test_an_admin_reorders_open_stages_and_won_and_lost_stay_last(client, world, pipeline):
    client.force_login(world.dave)
    negotiate = pipeline.stages.get(key="negotiate")
    client.post(_url("stage-move", negotiate.pk), {"direction": "up"})
    order = list(Stage.objects.filter(pipeline=pipeline).order_by("position").values_list("key", flat=True))
    assert order == ["qualify", "negotiate", "propose", "won", "lost"]
    won = pipeline.stages.get(key="won")
    assert client.post(_url("stage-move", won.pk), {"direction": "up"}).status_code == 422


def test_an_admin_adds_edits_and_removes_a_criterion_with_its_config_checked(client, world, pipeline):
    client.force_login(world.dave)
    negotiate = pipeline.stages.get(key="negotiate")
    bad = client.post(_url("criterion-add", negotiate.pk), {"phase": "exit", "kind": "checklist", "key": "legal",
                                                             "label": "Legal reviewed", "config": '{"item": "Legal OK"}'})
    assert bad.status_code == 422 and "checklist criterion" in bad.content.decode()
    ok = client.post(_url("criterion-add", negotiate.pk), {"phase": "exit", "kind": "checklist", "key": "legal",
                                                            "label": "Legal reviewed", "config": '{"item": "legal"}'})
    assert ok.status_code == 302
    criterion = Criterion.objects.get(stage=negotiate, key="legal")
    client.post(_url("criterion", criterion.pk), {"label": "Legal signed off", "config": '{"item": "legal"}'})
    criterion.refresh_from_db()
    assert criterion.label == "Legal signed off"
    response = client.post(_url("criterion", criterion.pk), {"label": "x", "config": "{not json"})
    assert response.status_code == 422 and "is not valid JSON" in response.content.decode()
    client.post(_url("criterion-delete", criterion.pk))
    assert not Criterion.objects.filter(pk=criterion.pk).exists()


def test_reps_and_managers_cannot_post_settings(client, world, pipeline):
    propose = pipeline.stages.get(key="propose")
    for user in (world.alice, world.bob):
        client.force_login(user)
        response = client.post(_url("stage", propose.pk), {"name": "Hacked", "probability": "1"})
        assert response.status_code == 403
    assert pipeline.stages.get(key="propose").name == "Propose"


def test_a_criterion_config_with_a_nul_character_is_refused_with_nothing_written(client, world, pipeline):
    """PostgreSQL's jsonb cannot store NUL: the settings service refuses it instead of failing with a 500."""
    client.force_login(world.dave)
    negotiate = pipeline.stages.get(key="negotiate")
    response = client.post(_url("criterion-add", negotiate.pk), {
        "phase": "exit", "kind": "checklist", "key": "legal", "label": "Legal", "config": '{"item": "le\\u0000gal"}'})
    assert response.status_code == 422 and "must not contain NUL characters" in response.content.decode()
    assert not Criterion.objects.filter(stage=negotiate, key="legal").exists()
