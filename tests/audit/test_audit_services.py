"""The services write the log in the change's own transaction, one entry per changed field."""

from __future__ import annotations

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from dealgate.api.services import create_token, revoke_token
from dealgate.audit.models import AuditEntry
from dealgate.deals import services
from dealgate.errors import MoveBlocked
from dealgate.people.services import create_user, rename_team, set_active, update_user_role
from dealgate.web import pipeline_settings as edits


def entries(obj_type: str, obj_id: int) -> list[tuple]:
    rows = AuditEntry.objects.filter(object_type=obj_type, object_id=obj_id).order_by("id")
    return [(row.action, row.field, row.before, row.after, row.by.username if row.by else None) for row in rows]


def test_it_logs_one_entry_per_changed_field_and_skips_unchanged_ones(world, make_deal):
    deal = make_deal(amount="100", currency="EUR")
    services.update_deal(deal, by=world.alice, amount="250", currency="EUR", expected_close_date="2026-06-30")
    assert entries("deal", deal.pk)[1:] == [
        ("changed", "amount", "100.00", "250.00", "alice"),
        ("changed", "expected_close_date", "", "2026-06-30", "alice"),
    ]


def test_a_move_writes_one_entry_and_a_refused_move_writes_none(world, make_deal, pipeline):
    deal = make_deal()
    before = AuditEntry.objects.count()
    with pytest.raises(MoveBlocked):
        services.move_deal(deal, "propose", by=world.alice)
    assert AuditEntry.objects.count() == before
    with CaptureQueriesContext(connection) as queries:
        services.move_deal(deal, "lost", by=world.alice, lost_reason="price", lost_note="half the price elsewhere")
    assert AuditEntry.objects.count() == before + 1
    # The log costs a move one statement: its INSERT.
    audit_sql = [q["sql"] for q in queries.captured_queries if "audit_auditentry" in q["sql"]]
    assert len(audit_sql) == 1 and audit_sql[0].startswith("INSERT")
    row = AuditEntry.objects.latest("id")
    assert (row.action, row.before, row.after, row.note) == ("lost", "Qualify", "Lost",
                                                            "lost reason: Price too high (half the price elsewhere)")


def test_a_rolled_back_change_leaves_no_entry(world, make_deal):
    deal = make_deal()
    with pytest.raises(RuntimeError), transaction.atomic():
        services.set_next_step(deal, by=world.alice, text="Call the CFO", due="2026-05-01")
        raise RuntimeError("the request failed after the write")
    assert [e[1] for e in entries("deal", deal.pk)] == ["stage"]  # only its creation


def test_it_is_append_only(world, make_deal):
    make_deal()
    with pytest.raises(TypeError):
        AuditEntry.objects.update(after="rewritten")
    with pytest.raises(TypeError):
        AuditEntry.objects.first().delete()


def test_it_logs_deal_evidence_contacts_and_reassignment(world, make_deal):
    deal = make_deal()
    contact = services.create_contact(by=world.alice, name="Dana Scully", account=deal.account)
    services.link_contact(deal, contact, "decision_maker", by=world.alice)
    services.record_checklist_answer(deal, "budget", by=world.alice, evidence="200k approved")
    services.reassign_deal(deal, world.carol, by=world.bob)
    assert entries("deal", deal.pk)[1:] == [
        ("contact linked", "decision_maker", "", "Dana Scully", "alice"),
        ("checklist", "budget", "", "ticked: 200k approved", "alice"),
        ("changed", "owner", "alice", "carol", "bob"),
        ("changed", "team", "East", "West", "bob"),
    ]
    assert entries("contact", contact.pk) == [("created", "", "", "", "alice")]


def test_it_logs_account_edits_and_deletes_with_the_old_values(world):
    account = services.create_account(by=world.alice, name="Initech", segment="SMB")
    services.update_account(account, by=world.carol, name="Initech Corp", segment="SMB")
    services.delete_account(account, by=world.bob)
    assert entries("account", account.pk) == [
        ("created", "", "", "", "alice"),
        ("changed", "name", "Initech", "Initech Corp", "carol"),
        ("deleted", "", "", "", "bob"),
    ]
    assert AuditEntry.objects.filter(object_type="account", object_id=account.pk).order_by("id")[1].object_name == "Initech Corp"


def test_it_logs_users_teams_and_tokens(world):
    erin = create_user(username="erin", password="long-enough-password", role="rep", team=world.east, by=world.dave)
    update_user_role(erin, role="manager", team=world.west, by=world.dave)
    set_active(erin, False, by=world.dave)
    rename_team(world.west, name="West Coast", by=world.dave)
    token, _ = create_token(user=world.alice, name="ERP sync")
    revoke_token(token.pk, by=world.alice)
    assert entries("user", erin.pk) == [
        ("created", "role", "", "rep", "dave"),
        ("changed", "role", "rep", "manager", "dave"),
        ("changed", "team", "East", "West", "dave"),
        ("changed", "active", "yes", "no", "dave"),
    ]
    assert entries("team", world.west.pk)[-1] == ("changed", "name", "West", "West Coast", "dave")
    assert [e[0] for e in entries("token", token.pk)] == ["created", "revoked"]
    assert token.hash not in "".join(AuditEntry.objects.values_list("note", flat=True))


def test_it_logs_stage_and_criterion_edits_from_the_settings(world, pipeline):
    propose = pipeline.stages.get(key="propose")
    edits.update_stage(propose, by=world.dave, name="Proposal", probability=65, rot_days=10,
                       exit_question=propose.exit_question)
    assert entries("stage", propose.pk) == [
        ("changed", "name", "Propose", "Proposal", "dave"),
        ("changed", "probability", "60", "65", "dave"),
    ]
    criterion = propose.criteria.get(key="meeting")
    edits.delete_criterion(criterion, by=world.dave)
    deleted = AuditEntry.objects.get(object_type="criterion", action="deleted")
    assert (deleted.object_name, deleted.note) == ("Proposal meeting held", "Proposal exit")
    assert '"activity": "meeting"' in deleted.before


def test_a_contact_is_named_by_their_name_not_their_job_title(world):
    """Jane Roe, CFO at Acme: the log names her "Jane Roe" (a deal is named by its title, but a
    contact's title is a job title), on her creation and on a change of her phone."""
    from dealgate.audit.models import AuditEntry
    from dealgate.deals import services as deal_services

    account = deal_services.create_account(by=world.alice, name="Acme")
    jane = deal_services.create_contact(by=world.alice, name="Jane Roe", account=account, title="CFO")
    deal_services.update_contact(jane, by=world.alice, phone="+1 555 0100")
    assert list(AuditEntry.objects.filter(object_type="contact").order_by("id").values_list(
        "object_name", "action", "field")) == [("Jane Roe", "created", ""), ("Jane Roe", "changed", "phone")]
