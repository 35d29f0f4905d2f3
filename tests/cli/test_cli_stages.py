"""`dealgate stages ...`: the settings page's stage edits from the console, through the same services."""

from __future__ import annotations

import io
import json

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from dealgate.audit.models import AuditEntry
from dealgate.deals.models import StageHistory
from dealgate.pipelines.models import Criterion, Stage


def run(*args: str) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def keys(pipeline):
    return list(pipeline.stages.order_by("position").values_list("key", flat=True))


def test_it_lists_the_stages_with_their_deals_and_status(world, pipeline, make_deal):
    make_deal(), make_deal()
    Stage.objects.filter(pipeline=pipeline, key="negotiate").update(retired_at="2026-01-01T00:00:00Z")
    text = run("stages", "list", "test")
    assert text.splitlines()[0].split() == ["#", "key", "stage", "kind", "prob.", "deals", "status"]
    assert text.splitlines()[2].split() == ["1", "qualify", "Qualify", "open", "20%", "2"]
    assert text.splitlines()[4].split() == ["3", "negotiate", "Negotiate", "open", "80%", "0", "retired"]
    rows = json.loads(run("stages", "list", "test", "--json"))
    assert [(r["key"], r["deals"], r["retired"]) for r in rows] == [
        ("qualify", 2, False), ("propose", 0, False), ("negotiate", 0, True), ("won", 0, False), ("lost", 0, False)]


def test_it_adds_a_stage_after_another_as_the_acting_admin(world, pipeline):
    text = run("stages", "add", "test", "Technical review", "--after", "propose", "--user", "dave")
    assert text.startswith("Added the stage Technical review (technical-review, 60%) to Test pipeline at position 3")
    assert keys(pipeline)[:4] == ["qualify", "propose", "technical-review", "negotiate"]
    entry = AuditEntry.objects.get(object_type="stage", action="created")
    assert (entry.by, entry.surface) == (world.dave, "cli")


def test_it_retires_a_stage_moving_its_deals_and_restores_it(world, pipeline, make_deal):
    Criterion.objects.filter(stage__pipeline=pipeline).delete()
    deal = make_deal()
    text = run("stages", "retire", "test", "qualify", "--move-deals-to", "propose", "--user", "dave")
    assert "Retired the stage Qualify" in text and "1 open deal moved to propose" in text
    row = StageHistory.objects.get(deal=deal, to_stage__key="propose")
    assert row.by == world.dave
    assert AuditEntry.objects.get(object_type="deal", action="moved").surface == "cli"
    assert Stage.objects.get(pipeline=pipeline, key="qualify").retired_at is not None
    assert "Restored the stage Qualify" in run("stages", "restore", "test", "qualify", "--user", "dave")
    assert Stage.objects.get(pipeline=pipeline, key="qualify").retired_at is None


def test_it_reorders_and_removes(world, pipeline):
    text = run("stages", "reorder", "test", "negotiate", "qualify", "propose")
    assert text.startswith("Test pipeline: Negotiate → Qualify → Propose")
    assert keys(pipeline) == ["negotiate", "qualify", "propose", "won", "lost"]
    run("stages", "add", "test", "Demo")
    assert "Removed the stage Demo" in run("stages", "remove", "test", "demo")


@pytest.mark.parametrize(("args", "message"), [
    (["list", "nowhere"], "No pipeline 'nowhere' (pipelines: test)"),
    (["retire", "test", "nowhere"], "Test pipeline has no stage 'nowhere' (stages: qualify, propose, negotiate"),
    (["retire", "test", "qualify\x00"], "stage: contains a NUL character"),
    (["list", "t" * 100_000], "pipeline: 100,000 characters; a key has at most 60"),
    (["retire", "test", "٣"], "has no stage '٣'"),
    (["add", "test", "Propose"], "already has a stage named 'Propose'"),
    (["add", "test", "x" * 100_000], "name: is longer than 100 characters"),
    (["add", "test", "Nul\x00name"], "name: contains a NUL character"),
    (["add", "test", "Demo", "--probability", "٣٠"], "use the digits 0-9"),
    (["add", "test", "Demo", "--kind", "won"], "only open stages are added"),
    (["add", "test", "Demo", "--after", "won"], "choose an open stage"),
    (["retire", "test", "qualify"], "1 open deal is in Qualify: choose the stage to move them to"),
    (["retire", "test", "qualify", "--move-deals-to", "nowhere"], "other than Qualify that is not retired"),
    (["retire", "test", "won"], "only open stages can be retired"),
    (["restore", "test", "qualify"], "Qualify is not retired"),
    (["remove", "test", "qualify"], "Qualify cannot be removed: 1 deal is in it now"),
    (["reorder", "test", "qualify", "propose"], "negotiate missing"),
    (["add", "test", "Demo", "--user", "alice"], "Only an administrator"),
    (["add", "test", "Demo", "--user", "nobody"], "No user 'nobody'"),
])
def test_it_refuses_with_a_clear_message_and_changes_nothing(world, pipeline, make_deal, args, message):
    make_deal()
    before = list(pipeline.stages.order_by("position").values_list("key", "name", "position", "retired_at"))
    with pytest.raises(CommandError) as refused:
        run("stages", *args)
    assert message in str(refused.value)
    assert "Traceback" not in str(refused.value)
    assert list(pipeline.stages.order_by("position").values_list("key", "name", "position", "retired_at")) == before


def test_a_refused_move_names_the_deals_and_an_override_reason_forces_them(world, pipeline, make_deal):
    deal = make_deal(title="Acme")
    with pytest.raises(CommandError) as refused:
        run("stages", "retire", "test", "qualify", "--move-deals-to", "propose", "--user", "dave")
    assert f"deal {deal.pk} Acme: Amount estimated, Budget confirmed" in str(refused.value)
    assert "  - " not in str(refused.value)  # the headline says it all; no repeated details
    run("stages", "retire", "test", "qualify", "--move-deals-to", "propose", "--override-reason", "Merged",
        "--user", "dave")
    row = StageHistory.objects.get(deal=deal, to_stage__key="propose")
    assert (row.override, row.override_reason, row.by) == (True, "Merged", world.dave)
