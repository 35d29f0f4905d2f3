"""Lists: the deals table and its CSV, accounts, contacts, an account page, my day."""

from __future__ import annotations

import csv
import datetime as dt
import io

from django.urls import reverse
from django.utils import timezone

from dealgate.deals import services


def _csv(response):
    return list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))


def test_the_deals_table_sorts_and_filters(client, world, make_deal):
    make_deal(title="Small", amount=10)
    make_deal(title="Big", amount=900)
    make_deal(owner=world.carol, title="West")
    client.force_login(world.alice)
    html = client.get(reverse("web:deals"), {"sort": "-amount"}).content.decode()
    assert html.index("Big") < html.index("Small") and "West" not in html
    html = client.get(reverse("web:deals"), {"sort": "amount"}).content.decode()
    assert html.index("Small") < html.index("Big")
    html = client.get(reverse("web:deals"), {"q": "big"}).content.decode()
    assert "Big" in html and "Small" not in html


def test_the_deals_stage_filter_leaves_out_a_retired_stage_unless_the_link_names_it(client, world, pipeline):
    from dealgate.web.pipeline_settings import retire_stage

    retire_stage(pipeline.stages.get(key="propose"), by=world.dave)
    client.force_login(world.alice)
    html = client.get(reverse("web:deals"), {"pipeline": "test"}).content.decode()
    assert 'value="qualify"' in html and 'value="propose"' not in html
    html = client.get(reverse("web:deals"), {"pipeline": "test", "stage": "propose"}).content.decode()
    assert '<option value="propose" selected>Propose (retired)</option>' in html


def test_the_csv_export_has_exactly_the_rows_of_the_current_view(client, world, make_deal):
    make_deal(title="Small", amount=10)
    make_deal(title="Big", amount=900)
    make_deal(owner=world.carol, title="West")
    client.force_login(world.alice)
    rows = _csv(client.get(reverse("web:deals"), {"format": "csv", "sort": "-amount"}))
    assert [r["title"] for r in rows] == ["Big", "Small"]
    assert rows[0]["amount"] == "900.00" and rows[0]["currency"] == "EUR" and rows[0]["owner"] == "alice"
    rows = _csv(client.get(reverse("web:deals"), {"format": "csv", "q": "small"}))
    assert [r["title"] for r in rows] == ["Small"]


def test_accounts_and_contacts_are_limited_to_what_the_user_may_see(client, world, make_deal):
    east = make_deal(title="East deal").account
    west = make_deal(owner=world.carol, title="West deal").account
    services.create_contact(by=world.alice, name="Eve East", account=east)
    services.create_contact(by=world.carol, name="Walt West", account=west)
    client.force_login(world.alice)
    html = client.get(reverse("web:accounts")).content.decode()
    assert east.name in html and west.name not in html
    html = client.get(reverse("web:contacts")).content.decode()
    assert "Eve East" in html and "Walt West" not in html
    assert client.get(reverse("web:account", args=[west.pk])).status_code == 404


def test_the_account_page_shows_contacts_open_and_closed_deals_and_activity(client, world, make_deal):
    open_deal = make_deal(title="Open one", amount=100)
    account = open_deal.account
    closed = make_deal(title="Closed one", account=account)
    services.move_deal(closed, "lost", by=world.alice, lost_reason="price")
    services.create_contact(by=world.alice, name="Eve East", account=account)
    services.log_activity(by=world.alice, kind="meeting", subject="Kick-off", deal=open_deal)
    client.force_login(world.alice)
    html = client.get(reverse("web:account", args=[account.pk])).content.decode()
    assert "Open one" in html and "Closed one" in html and "Eve East" in html and "Kick-off" in html
    assert html.index("Open one") < html.index("Closed one")


def test_my_day_lists_overdue_next_steps_first_then_stale_deals_then_tasks(client, world, make_deal):
    today = timezone.localdate()
    late = make_deal(title="Late step", next_step="Call", next_step_due=today - dt.timedelta(days=2))
    make_deal(title="On time", next_step="Call", next_step_due=today + dt.timedelta(days=2))
    services.log_activity(by=world.alice, kind="task", subject="Send the contract", deal=late,
                          occurred_at=timezone.now())
    make_deal(owner=world.bob, title="Bob's late", next_step="Call", next_step_due=today - dt.timedelta(days=2))
    client.force_login(world.alice)
    html = client.get(reverse("web:my_day")).content.decode()
    assert "Late step" in html and "Send the contract" in html
    assert "On time" not in html.split("2. Quiet or slow")[0]
    assert "Bob&#x27;s late" not in html and "Bob's late" not in html
    assert html.index("Late step") < html.index("Send the contract")


def test_a_managers_my_day_lists_her_teams_stale_deals_with_owner_stage_and_days(client, world, make_deal):
    from dealgate.deals.models import Deal

    def idle(deal, days):
        Deal.objects.filter(pk=deal.pk).update(stage_entered_at=timezone.now() - dt.timedelta(days=days))

    idle(make_deal(owner=world.alice, title="Alice's quiet one"), 12)
    make_deal(owner=world.alice, title="Alice's fresh one")
    idle(make_deal(owner=world.carol, title="Carol's quiet one"), 12)  # another team
    idle(make_deal(owner=world.bob, title="Bob's own quiet one"), 9)
    client.force_login(world.bob)
    html = client.get(reverse("web:my_day")).content.decode()
    mine, team = html.split("2. Quiet or slow deals")[1].split("Your team's quiet or slow deals")
    assert "Bob&#x27;s own quiet one" in mine and "Alice" not in mine
    assert "Alice&#x27;s quiet one" in team and "Quiet 12d" in team and "Alice · Qualify" in team
    assert "fresh one" not in team and "Carol" not in team and "Bob&#x27;s own" not in team
    assert "Nothing is quiet or slow" not in html


def test_a_reps_my_day_has_no_team_list(client, world, make_deal):
    client.force_login(world.alice)
    html = client.get(reverse("web:my_day")).content.decode()
    assert "Your team" not in html and "Nothing is quiet or slow." in html
