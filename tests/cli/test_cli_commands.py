"""The dealgate command line: readable output, JSON, and exit code 1 with reasons on refusal."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from dealgate.deals import services
from dealgate.deals.models import StageHistory


def run(*args: str) -> str:
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def test_it_lists_open_deals_as_a_table_with_right_aligned_amounts(make_deal):
    make_deal(title="Fleet renewal", amount="12500")
    make_deal(title="Pilot", amount="900")
    out = run("deals", "list")
    lines = out.splitlines()
    assert lines[0].split()[:4] == ["ID", "Title", "Account", "Stage"]
    assert any("Fleet renewal" in line and "12,500 EUR" in line for line in lines)
    assert "2 deals shown." in out
    amount_column_ends = {line.index(" EUR") for line in lines if " EUR" in line}
    assert len(amount_column_ends) == 1  # right-aligned: every amount ends at the same column


def test_it_lists_deals_as_json_with_filters(make_deal, world):
    make_deal(title="Alice's", owner=world.alice)
    make_deal(title="Carol's", owner=world.carol)
    rows = json.loads(run("deals", "list", "--json", "--owner", "carol"))
    assert [r["title"] for r in rows] == ["Carol's"]
    assert rows[0]["stage"] == "qualify"


def test_it_limits_the_list_to_what_the_acting_user_may_see(make_deal, world):
    make_deal(title="East deal", owner=world.alice)
    make_deal(title="West deal", owner=world.carol)
    rows = json.loads(run("deals", "list", "--json", "--user", "carol"))
    assert [r["title"] for r in rows] == ["West deal"]


def test_it_moves_a_deal_whose_criteria_hold(make_deal, world):
    deal = make_deal(amount="5000")
    services.record_checklist_answer(deal, "budget", by=world.alice, evidence="Budget of 6k confirmed by CFO")
    services.link_contact(deal, services.create_contact(by=world.alice, name="Dana Boss"), "decision_maker", by=world.alice)
    out = run("move", str(deal.pk), "propose", "--user", "alice")
    assert "Qualify -> Propose" in out
    deal.refresh_from_db()
    assert deal.stage.key == "propose"


def test_it_refuses_a_blocked_move_listing_every_unmet_criterion(make_deal):
    deal = make_deal()
    with pytest.raises(CommandError) as refused:
        run("move", str(deal.pk), "propose", "--user", "alice")
    text = str(refused.value)
    assert "3 criteria not met" in text
    for label in ("Amount estimated", "Budget confirmed", "Decision maker identified"):
        assert label in text
    assert StageHistory.objects.filter(deal=deal).count() == 1


def test_it_lets_a_manager_override_with_a_reason(make_deal):
    deal = make_deal()
    out = run("move", str(deal.pk), "propose", "--user", "bob", "--override", "--reason", "Verbal yes from CEO")
    assert "(override)" in out
    row = StageHistory.objects.filter(deal=deal).last()
    assert row.override and row.override_reason == "Verbal yes from CEO"


def test_it_refuses_override_for_a_rep_and_without_a_reason(make_deal):
    deal = make_deal()
    with pytest.raises(CommandError, match="Only a manager or admin"):
        run("move", str(deal.pk), "propose", "--user", "alice", "--override", "--reason", "trust me")
    with pytest.raises(CommandError, match="--override needs --reason"):
        run("move", str(deal.pk), "propose", "--user", "bob", "--override")


def test_it_names_the_stages_when_the_stage_is_unknown(make_deal):
    deal = make_deal()
    with pytest.raises(CommandError, match="No stage 'nowhere'.*qualify, propose, negotiate, won, lost"):
        run("move", str(deal.pk), "nowhere")


def test_it_says_so_when_the_deal_does_not_exist(db):
    with pytest.raises(CommandError, match="No deal 999"):
        run("move", "999", "propose")
    with pytest.raises(CommandError, match="No deal 999"):
        run("deal", "show", "999")


def test_it_needs_a_lost_reason_to_lose_a_deal(make_deal):
    deal = make_deal()
    with pytest.raises(CommandError, match="needs a reason: one of"):
        run("move", str(deal.pk), "lost", "--user", "alice")
    out = run("move", str(deal.pk), "lost", "--user", "alice", "--lost-reason", "price")
    assert "-> Lost" in out


def test_it_shows_a_deal_with_criteria_progress_and_history(make_deal, world):
    deal = make_deal(title="Warehouse scanners", amount="7000")
    services.set_next_step(deal, by=world.alice, text="Send pricing sheet", due="2030-01-15")
    out = run("deal", "show", str(deal.pk))
    assert "Deal %d: Warehouse scanners" % deal.pk in out
    assert "[Qualify] > Propose > Negotiate" in out
    assert "Criteria for Propose: 1 of 3 met" in out  # Qualify's exit (amount met, budget) + Propose's entry
    assert "[x] Amount estimated" in out
    assert "[ ] Budget confirmed" in out
    assert "Next step: Send pricing sheet (due 2030-01-15)" in out
    data = json.loads(run("deal", "show", str(deal.pk), "--json"))
    assert (data["criteria"]["met"], data["criteria"]["total"], data["criteria"]["next_stage"]) == (1, 3, "Propose")
    assert data["history"][0]["kind"] == "created"


def test_it_hides_another_teams_deal_from_a_rep(make_deal, world):
    deal = make_deal(owner=world.alice)
    with pytest.raises(CommandError, match=f"No deal {deal.pk}"):
        run("deal", "show", str(deal.pk), "--user", "carol")


@pytest.mark.django_db(transaction=True)
def test_the_console_command_exits_1_with_the_reason_on_a_refused_move(tmp_path):
    env = dict(os.environ, DEALGATE_DATA_DIR=str(tmp_path))
    if "DATABASE_URL" in env:  # the subprocess needs its own database; SQLite in tmp_path is enough here
        del env["DATABASE_URL"]
    dealgate = [sys.executable, "-m", "dealgate.cli"]
    subprocess.run([*dealgate, "migrate", "-v0"], env=env, check=True)
    script = (
        "from tests.conftest import build_test_pipeline;"
        "from dealgate.people.services import create_user;"
        "from dealgate.deals import services as s;"
        "p = build_test_pipeline(); u = create_user(username='erin', password=None);"
        "s.create_deal(by=u, title='CLI deal', account=s.create_account(by=u, name='Acme'), pipeline=p)"
    )
    subprocess.run([*dealgate, "shell", "-c", script], env=env, check=True)
    refused = subprocess.run([*dealgate, "move", "1", "propose"], env=env, capture_output=True, text=True)
    assert refused.returncode == 1
    assert "Budget confirmed" in refused.stderr
    unknown = subprocess.run([*dealgate, "move", "1", "nowhere"], env=env, capture_output=True, text=True)
    assert unknown.returncode == 1 and "No stage 'nowhere'" in unknown.stderr
    help_text = subprocess.run([*dealgate, "--help"], env=env, capture_output=True, text=True).stdout
    assert "move ID STAGE" in help_text


def _backdate(deal, created: str, closed: str) -> None:
    """Put a closed deal's two history rows (created, closed) at these UTC times; history is append-only in
    the ORM, so this is the raw SQL a restored backup would amount to."""
    from django.db import connection

    history, deals = StageHistory._meta.db_table, deal._meta.db_table
    rows = list(StageHistory.objects.filter(deal=deal).order_by("at", "id").values_list("id", flat=True))
    assert len(rows) == 2
    with connection.cursor() as cursor:
        for row_id, when in zip(rows, (created, closed)):
            cursor.execute(f"UPDATE {history} SET at = %s WHERE id = %s", [when, row_id])
        cursor.execute(f"UPDATE {deals} SET created_at = %s, stage_entered_at = %s, closed_at = %s WHERE id = %s",
                       [created, closed, closed, deal.pk])


def test_it_stops_the_stage_clock_of_a_deal_won_years_ago_and_shows_only_the_stages_it_reached(make_deal):
    import datetime as dt

    deal = make_deal(title="Old win", amount="9000")
    run("move", str(deal.pk), "won", "--user", "bob", "--override", "--reason", "Signed on paper")
    utc = dt.timezone.utc
    _backdate(deal, dt.datetime(2016, 1, 1, 9, tzinfo=utc), dt.datetime(2016, 2, 15, 10, tzinfo=utc))
    out = run("deal", "show", str(deal.pk))
    assert "Qualify > [Won]" in out.splitlines()[1]  # Propose and Negotiate were never reached
    assert "won on 2016-02-15 from Qualify after 45 days there" in out  # Jan 1 -> Feb 15: 31 + 14 days
    assert "Next step" not in out
    data = json.loads(run("deal", "show", str(deal.pk), "--json"))
    assert data["days_in_stage"] == 45 and data["stages_reached"] == ["qualify", "won"]


def test_it_shows_why_and_when_a_deal_was_lost_without_a_next_step(make_deal, world):
    deal = make_deal(title="Lost early")
    services.set_next_step(deal, by=world.alice, text="Call again", due="2020-01-01")
    run("move", str(deal.pk), "lost", "--user", "alice", "--lost-reason", "price")
    out = run("deal", "show", str(deal.pk))
    assert out.splitlines()[1] == "Qualify > [Lost]"
    assert "lost on " in out and "from Qualify after 0 days there" in out
    assert "Lost reason: Price too high" in out
    assert "Call again" not in out and "Overdue" not in out
