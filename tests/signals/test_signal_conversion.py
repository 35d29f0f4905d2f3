"""Signal conversion rate on the insights page: converted / decided, by the period the signals were raised in."""

from __future__ import annotations

import datetime as dt
import json
import re
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from dealgate.analytics.history import Scope
from dealgate.analytics.periods import parse_as_of, parse_period
from dealgate.analytics.signal_conversion import signal_conversion
from dealgate.deals.models import Account
from dealgate.signals.models import Signal


def signal(account: Account, raised: str, status: str, revenue: int = 1000) -> Signal:
    number = Signal.objects.count() + 1
    return Signal.objects.create(kind="missed_reorder", account=account, cause_key=f"test:{number}",
                                 title=f"Signal {number}", revenue=revenue, as_of=dt.date.fromisoformat(raised),
                                 raised_at=dt.datetime.fromisoformat(raised).replace(tzinfo=dt.timezone.utc),
                                 status=status)


def history(world) -> None:
    alices = Account.objects.create(name="Alice's", owner=world.alice, segment="Retail")
    carols = Account.objects.create(name="Carol's", owner=world.carol)
    # 2026-Q3: 3 converted, 1 dismissed, 1 still new; 2026-Q2: 1 converted, 1 dismissed; Carol: 1 dismissed in Q3.
    for status in ("converted", "converted", "converted", "dismissed", "new"):
        signal(alices, "2026-08-10", status, revenue=2000)
    signal(alices, "2026-05-02", "converted")
    signal(alices, "2026-04-20", "dismissed")
    signal(alices, "2026-10-02", "snoozed")  # after the cutoff used below
    signal(carols, "2026-07-15", "dismissed")


def test_the_rate_is_converted_over_decided_per_period_and_only_what_the_viewer_sees(world):
    history(world)
    q3, cutoff = parse_period("2026-Q3"), parse_as_of("2026-10-01")
    rows = signal_conversion(world.dave, Scope(), q3, cutoff)
    assert [r["period"] for r in rows] == ["2025-Q4", "2026-Q1", "2026-Q2", "2026-Q3"]
    q2_row, q3_row = rows[2], rows[3]
    assert (q3_row["raised"], q3_row["converted"], q3_row["dismissed"], q3_row["open"]) == (6, 3, 2, 1)
    assert q3_row["rate"] == 3 / 5 and q3_row["converted_revenue"] == 6000
    assert (q2_row["decided"], q2_row["rate"]) == (2, 0.5)
    assert rows[0]["rate"] is None  # nothing decided: no rate, not 0%
    mine = signal_conversion(world.alice, Scope(), q3, cutoff)[-1]  # a rep: her own accounts only
    assert (mine["decided"], mine["rate"]) == (4, 0.75)
    retail = signal_conversion(world.dave, Scope(segment="Retail"), q3, cutoff)[-1]
    assert retail["raised"] == 5
    # The cutoff: a signal raised after it does not count, even inside the period.
    assert signal_conversion(world.dave, Scope(), parse_period("2026-Q4"), cutoff)[-1]["raised"] == 0


def test_the_insights_page_shows_the_signal_conversion_rate(client, world, pipeline):
    history(world)
    client.login(username="dave", password=world.password)
    page = client.get("/insights/", {"period": "2026-Q3", "as_of": "2026-10-01"}).content.decode()
    section = page[page.index('id="signal-conversion"'):]
    assert re.search(r"60\.0% <span class=\"muted\">converted</span>", section)
    assert "3 of the 5 signals raised in 2026-Q3 and decided so far became deals; 1 still open." in section
    assert "<td>2026-Q2</td>" in section and "50.0%" in section
    client.logout()
    client.login(username="carol", password=world.password)
    page = client.get("/insights/", {"period": "2026-Q3", "as_of": "2026-10-01"}).content.decode()
    section = page[page.index('id="signal-conversion"'):]
    assert "0 of the 1 signal raised in 2026-Q3 and decided so far became deals." in section
    q4 = client.get("/insights/", {"period": "2026-Q4"}).content.decode()
    assert "No signal was raised in 2026-Q4." in q4  # alice's snoozed one is not carol's to see
    client.logout()
    client.login(username="dave", password=world.password)
    q4 = client.get("/insights/", {"period": "2026-Q4"}).content.decode()
    assert "No signal raised in 2026-Q4 has been converted or dismissed yet; 1 is open" in q4


def report_signals(*args: str) -> str:
    out = StringIO()
    call_command("report", "signals", "--period", "2026-Q3", "--as-of", "2026-09-30", *args, stdout=out)
    return out.getvalue()


def test_the_api_and_report_signals_give_the_insights_figures_in_the_callers_scope(client, world):
    """The history above, as of 2026-09-30 (the Q4 snooze is after it). 2026-Q3: alice's account 3 converted
    (2,000 each), 1 dismissed, 1 new; carol's 1 dismissed -> admin: raised 6, decided 5, rate 3/5 = 60.0%,
    converted revenue 3 x 2,000 = 6,000. 2026-Q2: alice's 1 converted (1,000), 1 dismissed -> 1/2 = 50.0%.
    alice (a rep) sees her own account: Q3 3/4 = 75.0%; carol hers: 0/1 = 0.0%; bob (alice's manager) = alice's."""
    history(world)
    query = {"period": "2026-Q3", "as_of": "2026-09-30"}
    answers = {}
    for who in ("dave", "alice", "bob", "carol"):
        client.force_login(getattr(world, who))
        response = client.get("/api/signal-conversion", query)
        assert response.status_code == 200, response.content
        answers[who] = response.json()
        printed = json.loads(report_signals("--json", "--user", who))
        assert answers[who]["periods"] == printed["groups"][0]["result"]  # the same numbers, to the cent
    periods = answers["dave"]["periods"]
    assert [p["period"] for p in periods] == ["2025-Q4", "2026-Q1", "2026-Q2", "2026-Q3"]
    assert periods[-1] == {"period": "2026-Q3", "raised": 6, "converted": 3, "dismissed": 2, "decided": 5, "open": 1,
                           "rate": 0.6, "converted_revenue": "6000.00"}
    assert (periods[2]["rate"], periods[2]["converted_revenue"]) == (0.5, "1000.00")
    assert periods[0]["rate"] is None and periods[0]["converted_revenue"] == "0.00"
    assert answers["alice"]["periods"][-1]["rate"] == 0.75 and answers["bob"]["periods"][-1]["rate"] == 0.75
    assert (answers["carol"]["periods"][-1]["raised"], answers["carol"]["periods"][-1]["rate"]) == (1, 0.0)
    # The command without --user is the system: everything, as for the admin.
    assert json.loads(report_signals("--json"))["groups"][0]["result"] == periods
    table = report_signals()
    assert re.search(r"2026-Q3\s+6\s+3\s+2\s+1\s+60\.0%\s+6,000", table), table
    assert re.search(r"2025-Q4\s+0\s+0\s+0\s+0\s+—\s+0", table), table
    by_owner = json.loads(report_signals("--json", "--by", "owner"))
    assert {g["name"]: g["result"][-1]["rate"] for g in by_owner["groups"]}.get("alice", 0.75) == 0.75
    client.force_login(world.dave)
    segment = client.get("/api/signal-conversion", {**query, "segment": "Retail"}).json()
    assert segment["periods"][-1]["raised"] == 5


def test_report_signals_refuses_a_deal_only_cut(db):
    with pytest.raises(CommandError, match="takes --owner, --team, --segment"):
        report_signals("--by", "pipeline")
