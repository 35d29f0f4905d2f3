"""The per-process cache of pipeline rules: a change to the rules is seen by the very next move.

Every test first loads the rules (a refused or checked move), so the cache holds the old rules,
then changes them by one write path (settings services, model save/delete as the Django admin
does, `QuerySet.update`, raw SQL, a rolled-back transaction) and moves again.
"""

from __future__ import annotations

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from dealgate.deals.services import move_deal, unmet_criteria
from dealgate.errors import MoveBlocked
from dealgate.pipelines.gate import PipelineRules, rules_version
from dealgate.pipelines.models import Criterion, CustomField, LostReason, Stage
from dealgate.pipelines.services import create_pipeline_from_template
from dealgate.web import pipeline_settings


def stage(pipeline, key: str) -> Stage:
    return Stage.objects.get(pipeline=pipeline, key=key)


def unmet_keys(deal, key: str) -> list[str]:
    return [item["key"] for item in unmet_criteria(deal, stage(deal.pipeline, key))]


@pytest.fixture
def ready_deal(make_deal, gates):
    """A deal in Qualify whose every criterion for Propose holds."""
    deal = make_deal(amount="5000")
    gates.qualify_exit(deal)
    gates.propose_entry(deal)
    assert unmet_keys(deal, "propose") == []  # primes the cache with the current rules
    return deal


def test_it_reuses_the_loaded_rules_with_a_single_version_read(pipeline):
    first = PipelineRules.load(pipeline.pk)
    with CaptureQueriesContext(connection) as ctx:
        again = PipelineRules.load(pipeline.pk)
    assert again is first
    assert len(ctx.captured_queries) == 1
    assert "rulesversion" in ctx.captured_queries[0]["sql"].lower()


def test_a_criterion_added_in_settings_blocks_the_very_next_move(ready_deal, world):
    pipeline_settings.add_criterion(stage(ready_deal.pipeline, "qualify"), by=world.dave, phase="exit",
                                    key="close-date", label="Close date set", kind="field",
                                    config='{"field": "expected_close_date"}')
    with pytest.raises(MoveBlocked) as excinfo:
        move_deal(ready_deal, "propose", by=world.alice)
    assert [item["key"] for item in excinfo.value.details["unmet"]] == ["close-date"]


def test_a_criterion_deleted_in_settings_no_longer_blocks_the_next_move(make_deal, gates, world):
    deal = make_deal(amount="5000")
    gates.qualify_exit(deal)
    assert unmet_keys(deal, "propose") == ["decision-maker"]
    pipeline_settings.delete_criterion(Criterion.objects.get(key="decision-maker"), by=world.dave)
    move_deal(deal, "propose", by=world.alice)
    deal.refresh_from_db()
    assert deal.stage.key == "propose"


def test_a_criterion_changed_in_settings_is_evaluated_with_its_new_config(ready_deal, world):
    amount = Criterion.objects.get(key="amount")
    pipeline_settings.update_criterion(amount, by=world.dave, label="Amount over 10k",
                                       config={"field": "amount", "op": "gt", "value": 10000})
    assert unmet_keys(ready_deal, "propose") == ["amount"]


def test_reordering_stages_in_settings_changes_what_a_skip_must_meet(make_deal, gates, world):
    # QuerySet.update path: move_stage swaps positions without saving model instances.
    deal = make_deal(amount="5000")
    gates.qualify_exit(deal)
    assert unmet_keys(deal, "negotiate") == ["decision-maker", "meeting"]  # skipping Propose
    pipeline_settings.move_stage(stage(deal.pipeline, "negotiate"), "up", by=world.dave)
    assert PipelineRules.load(deal.pipeline_id).next_open_stage(stage(deal.pipeline, "qualify")).key == "negotiate"
    move_deal(deal, "negotiate", by=world.alice)  # Negotiate is now next: nothing skipped
    deal.refresh_from_db()
    assert deal.stage.key == "negotiate"


def test_a_stage_edit_in_settings_is_in_the_next_rules(pipeline, world):
    qualify = stage(pipeline, "qualify")
    assert PipelineRules.load(pipeline.pk).stages[qualify.pk].probability == 20
    pipeline_settings.update_stage(qualify, by=world.dave, name="Qualify", probability=35, rot_days=7,
                                   exit_question="", goal="", guidance="")
    assert PipelineRules.load(pipeline.pk).stages[qualify.pk].probability == 35


def test_a_model_save_and_delete_as_the_django_admin_does_are_seen(ready_deal, world):
    qualify = stage(ready_deal.pipeline, "qualify")
    extra = Criterion.objects.create(stage=qualify, phase="exit", key="source", label="Source known",
                                     kind="field", config={"field": "source", "op": "eq", "value": "partner"})
    assert unmet_keys(ready_deal, "propose") == ["source"]
    extra.config = {"field": "amount", "op": "gt", "value": 1}
    extra.save()
    assert unmet_keys(ready_deal, "propose") == []
    extra.delete()
    assert [s.key for s in PipelineRules.load(ready_deal.pipeline_id).exit[qualify.pk]] == ["amount", "budget"]


def test_a_raw_sql_change_is_seen(ready_deal):
    with connection.cursor() as cursor:
        cursor.execute(f"UPDATE {Criterion._meta.db_table} SET config = %s WHERE key = %s",
                       ['{"field": "amount", "op": "gt", "value": 999999}', "amount"])
    assert unmet_keys(ready_deal, "propose") == ["amount"]


def test_rules_loaded_inside_a_rolled_back_change_are_not_served_afterwards(ready_deal):
    qualify = stage(ready_deal.pipeline, "qualify")
    with pytest.raises(RuntimeError), transaction.atomic():
        Criterion.objects.create(stage=qualify, phase="exit", key="source", label="Source known",
                                 kind="field", config={"field": "source", "op": "eq", "value": "partner"})
        assert unmet_keys(ready_deal, "propose") == ["source"]  # cached under the rolled-back version
        raise RuntimeError("roll back")
    assert unmet_keys(ready_deal, "propose") == []


def test_a_pipeline_from_a_template_gets_its_own_version(db):
    created = create_pipeline_from_template("b2b-7", key="tmpl")
    rules = PipelineRules.load(created.pk)
    assert rules_version(created.pk) is not None
    assert sum(len(specs) for specs in rules.exit.values()) == Criterion.objects.filter(
        stage__pipeline=created, phase="exit").count() > 0


@pytest.mark.parametrize("change", ["custom field", "lost reason"])
def test_custom_field_and_lost_reason_changes_invalidate_every_pipeline(pipeline, change):
    other = create_pipeline_from_template("b2b-7", key="other")
    before = {pid: rules_version(pid) for pid in (pipeline.pk, other.pk)}
    if change == "custom field":
        CustomField.objects.create(key="region", label="Region")
    else:
        LostReason.objects.filter(key="price").update(active=False)
    after = {pid: rules_version(pid) for pid in (pipeline.pk, other.pk)}
    assert all(after[pid] != before[pid] for pid in before)


def test_an_unrelated_pipeline_keeps_its_version(pipeline, world):
    other = create_pipeline_from_template("b2b-7", key="other")
    before = rules_version(other.pk)
    pipeline_settings.update_stage(stage(pipeline, "qualify"), by=world.dave, name="Qualify", probability=30,
                                   rot_days=7, exit_question="", goal="", guidance="")
    assert rules_version(other.pk) == before


def test_an_edit_in_the_django_admin_is_seen_by_the_next_move(client, ready_deal, world):
    amount = Criterion.objects.get(key="amount")
    client.force_login(world.dave)  # an admin is a Django superuser
    response = client.post(f"/admin/pipelines/criterion/{amount.pk}/change/", {
        "stage": amount.stage_id, "phase": "exit", "key": "amount", "label": "Amount over 10k", "kind": "field",
        "config": '{"field": "amount", "op": "gt", "value": 10000}', "position": 1,
    })
    assert response.status_code == 302, response.content.decode()[:2000]
    with pytest.raises(MoveBlocked) as excinfo:
        move_deal(ready_deal, "propose", by=world.alice)
    assert [item["key"] for item in excinfo.value.details["unmet"]] == ["amount"]
