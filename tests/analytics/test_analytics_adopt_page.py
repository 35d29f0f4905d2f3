"""Issue #5: undo an adopted probability from the forecast page (admins, POST with CSRF, audited)."""

from __future__ import annotations

import pytest
from django.test import Client

from dealgate.analytics.models import ProbabilityAdoption
from dealgate.analytics.services import adopt_probability
from dealgate.web import pipeline_settings

FORECAST = "/insights/forecast/?period=2026-Q4"


@pytest.fixture
def qualify(pipeline):
    return pipeline.stages.get(key="qualify")


def undo(client, stage):
    return client.post(f"/insights/forecast/adopt/{stage.pk}/", {"action": "undo", "query": "period=2026-Q4"})


def probability(stage) -> int:
    stage.refresh_from_db()
    return stage.probability


def test_an_admin_undoes_the_latest_adoption_and_the_undo_is_audited(client, world, qualify):
    adopted = adopt_probability(qualify, 35, by=world.dave)
    client.force_login(world.dave)
    response = undo(client, qualify)
    assert response.status_code == 302 and response["Location"] == "/insights/forecast/?period=2026-Q4"
    assert probability(qualify) == 20
    back = ProbabilityAdoption.objects.exclude(pk=adopted.pk).get()
    assert (back.reverts, back.old_probability, back.new_probability, back.by) == (adopted, 35, 20, world.dave)
    assert "back to 20%" in client.get(FORECAST).content.decode()


def test_the_page_offers_undo_only_where_the_latest_adoption_is_in_force(client, world, pipeline, qualify):
    propose = pipeline.stages.get(key="propose")
    adopt_probability(qualify, 35, by=world.dave)
    client.force_login(world.dave)
    html = client.get(FORECAST).content.decode()
    assert f'id="undo-{qualify.pk}"' in html and "Undo: back to 20%" in html
    assert f'id="undo-{propose.pk}"' not in html  # never adopted
    undo(client, qualify)
    assert f'id="undo-{qualify.pk}"' not in client.get(FORECAST).content.decode()  # already undone


@pytest.mark.parametrize("who", ["alice", "bob"])
def test_reps_and_managers_get_403_and_nothing_changes(client, world, qualify, who):
    adopt_probability(qualify, 35, by=world.dave)
    client.force_login(getattr(world, who))
    assert undo(client, qualify).status_code == 403
    assert probability(qualify) == 35 and ProbabilityAdoption.objects.count() == 1
    assert f'id="undo-{qualify.pk}"' not in client.get(FORECAST).content.decode()


def test_undo_needs_a_post_with_the_csrf_token(world, qualify):
    adopt_probability(qualify, 35, by=world.dave)
    client = Client(enforce_csrf_checks=True)
    client.force_login(world.dave)
    assert client.get(f"/insights/forecast/adopt/{qualify.pk}/", {"action": "undo"}).status_code == 405
    assert undo(client, qualify).status_code == 403  # no token
    assert probability(qualify) == 35


def test_undo_twice_does_not_reapply_the_adoption(client, world, qualify):
    adopt_probability(qualify, 35, by=world.dave)
    client.force_login(world.dave)
    undo(client, qualify)
    second = undo(client, qualify)
    assert second.status_code == 302
    assert probability(qualify) == 20 and ProbabilityAdoption.objects.count() == 2
    assert "no adopted probability to undo" in client.get(FORECAST).content.decode()


def test_undo_refuses_after_the_probability_was_changed_in_settings(client, world, qualify):
    adopt_probability(qualify, 35, by=world.dave)
    pipeline_settings.update_stage(qualify, by=world.dave, name="Qualify", probability=50, rot_days=7,
                                   exit_question="", goal="", guidance="")
    client.force_login(world.dave)
    undo(client, qualify)
    assert probability(qualify) == 50 and ProbabilityAdoption.objects.count() == 1


def test_only_the_latest_of_several_adoptions_is_undone(client, world, qualify):
    adopt_probability(qualify, 35, by=world.dave)
    adopt_probability(qualify, 45, by=world.dave)
    client.force_login(world.dave)
    undo(client, qualify)
    assert probability(qualify) == 35
    undo(client, qualify)  # the latest row is now an undo: nothing more to undo
    assert probability(qualify) == 35
