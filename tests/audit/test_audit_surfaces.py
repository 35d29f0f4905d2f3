"""Each surface records who made a change and from where: web, API, CLI, import, Django admin."""

from __future__ import annotations

import io
from pathlib import Path

from django.core.management import call_command

from dealgate.api.services import create_token
from dealgate.audit.models import AuditEntry
from dealgate.imports.services import import_file
from dealgate.pipelines.models import LostReason

IMPORT_DATA = Path(__file__).resolve().parents[1] / "imports" / "data"


def only(**filters) -> AuditEntry:
    rows = list(AuditEntry.objects.filter(**filters))
    assert len(rows) == 1, rows
    return rows[0]


def test_it_records_a_web_edit_with_its_author_surface_and_values(client, world, make_deal):
    deal = make_deal(amount="800")
    client.force_login(world.alice)
    response = client.post(f"/deals/{deal.pk}/do/fields/", {"amount": "1500", "title": deal.title})
    assert response.status_code in (200, 302)
    row = only(object_type="deal", object_id=deal.pk, field="amount")
    assert (row.by, row.surface, row.action, row.before, row.after) == (world.alice, "web", "changed", "800.00",
                                                                         "1500.00")
    assert row.object_name == deal.title
    assert not AuditEntry.objects.filter(object_id=deal.pk, field="title").exists()  # unchanged: not logged


def test_it_records_an_api_edit_as_coming_from_the_api(client, world, make_deal):
    deal = make_deal()
    secret = create_token(user=world.bob, name="sync")[1]
    response = client.patch(f"/api/deals/{deal.pk}", {"expected_close_date": "2026-04-01"},
                            content_type="application/json", headers={"Authorization": f"Bearer {secret}"})
    assert response.status_code == 200, response.content
    row = only(object_type="deal", object_id=deal.pk, field="expected_close_date")
    assert (row.by, row.surface, row.before, row.after) == (world.bob, "api", "", "2026-04-01")


def test_it_records_a_cli_move_with_its_override_reason(world, make_deal):
    deal = make_deal()
    call_command("move", str(deal.pk), "propose", "--user", "bob", "--override", "--reason", "Budget by phone",
                 stdout=io.StringIO())
    row = only(object_type="deal", object_id=deal.pk, field="stage", action="moved")
    assert (row.by, row.surface, row.before, row.after) == (world.bob, "cli", "Qualify", "Propose")
    assert row.note == "override: Budget by phone"


def test_it_records_an_import_with_the_importing_user(world, pipeline):
    report = import_file("deals", str(IMPORT_DATA / "generic_deals.csv"), "generic", by=world.bob, pipeline="test")
    assert report.written, report
    created = AuditEntry.objects.filter(object_type="deal", action="created")
    assert sorted(created.values_list("object_name", flat=True)) == ["Cyberdyne chips", "Soylent supply",
                                                                     "Tyrell replicants"]
    assert {(row.by, row.surface) for row in created} == {(world.bob, "import")}
    accounts = AuditEntry.objects.filter(object_type="account", action="created")
    assert sorted(accounts.values_list("object_name", flat=True)) == ["Cyberdyne", "Soylent", "Tyrell"]


def test_it_records_a_django_admin_edit_as_coming_from_the_admin(client, world, pipeline):
    reason = LostReason.objects.get(key="price")
    client.force_login(world.dave)
    response = client.post(f"/admin/pipelines/lostreason/{reason.pk}/change/",
                           {"key": "price", "label": "Too expensive", "active": "on"})
    assert response.status_code == 302, response.content.decode()[:2000]
    row = only(object_type="lost reason", object_id=reason.pk)
    assert (row.by, row.surface, row.action, row.field, row.before, row.after) == (
        world.dave, "admin", "changed", "label", "Price too high", "Too expensive")


def test_it_records_a_stage_edited_inline_on_the_admin_pipeline_page(client, world, pipeline):
    stages = list(pipeline.stages.order_by("position"))
    form = {"key": pipeline.key, "name": pipeline.name, "single_threaded_from": "", "stages-TOTAL_FORMS": len(stages),
            "stages-INITIAL_FORMS": len(stages), "stages-MIN_NUM_FORMS": 0, "stages-MAX_NUM_FORMS": 1000}
    for i, stage in enumerate(stages):
        form.update({f"stages-{i}-id": stage.pk, f"stages-{i}-pipeline": pipeline.pk,
                     f"stages-{i}-position": stage.position, f"stages-{i}-key": stage.key,
                     f"stages-{i}-name": stage.name, f"stages-{i}-kind": stage.kind,
                     f"stages-{i}-probability": stage.probability, f"stages-{i}-rot_days": stage.rot_days or "",
                     f"stages-{i}-exit_question": stage.exit_question})
    form["stages-2-probability"] = 75  # Negotiate, 80% before
    client.force_login(world.dave)
    response = client.post(f"/admin/pipelines/pipeline/{pipeline.pk}/change/", form)
    assert response.status_code == 302, response.content.decode()[:3000]
    row = only(object_type="stage", object_id=stages[2].pk)
    assert (row.by, row.surface, row.field, row.before, row.after) == (world.dave, "admin", "probability", "80", "75")


def test_it_records_a_criterion_deleted_in_the_django_admin(client, world, pipeline):
    criterion = pipeline.stages.get(key="qualify").criteria.get(key="budget")
    client.force_login(world.dave)
    response = client.post(f"/admin/pipelines/criterion/{criterion.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302
    row = only(object_type="criterion", object_id=criterion.pk)
    assert (row.by, row.surface, row.action, row.object_name) == (world.dave, "admin", "deleted", "Budget confirmed")


def test_it_records_a_user_deactivated_in_the_django_admin(client, world):
    carol = world.carol
    joined = carol.date_joined
    client.force_login(world.dave)
    response = client.post(f"/admin/auth/user/{carol.pk}/change/", {
        "username": "carol", "first_name": "Carol", "last_name": "", "email": "",
        "date_joined_0": joined.strftime("%Y-%m-%d"), "date_joined_1": joined.strftime("%H:%M:%S"),
        "initial-date_joined_0": joined.strftime("%Y-%m-%d"), "initial-date_joined_1": joined.strftime("%H:%M:%S"),
    })  # is_active left unticked
    assert response.status_code == 302, response.content.decode()[:3000]
    row = only(object_type="user", object_id=carol.pk, surface="admin")
    assert (row.by, row.action, row.field, row.before, row.after) == (world.dave, "changed", "is_active", "yes", "no")
