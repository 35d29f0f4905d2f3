"""A closed deal tells the truth: the stages it reached, when and why it closed, and no follow-up."""

from __future__ import annotations

import datetime as dt

from django.urls import reverse
from django.utils import timezone

from dealgate.deals import services
from dealgate.deals.models import Deal, StageHistory


def _page(client, deal) -> str:
    response = client.get(reverse("web:deal", args=[deal.pk]))
    assert response.status_code == 200
    return response.content.decode()


def _path(html: str) -> str:
    start = html.index('aria-label="Stage path"')
    return html[start:html.index("</nav>", start)]


def test_it_shows_only_the_reached_stages_of_a_deal_lost_in_the_first_stage(client, world, make_deal):
    deal = make_deal(title="Lost early", amount=5000)
    services.move_deal(deal, "lost", by=world.alice, lost_reason="price")
    client.force_login(world.alice)
    path = _path(_page(client, Deal.objects.get(pk=deal.pk)))
    assert "Qualify" in path and "Lost" in path
    assert "Propose" not in path and "Negotiate" not in path  # never reached, so never ticked
    assert "✓&nbsp;Qualify" in path  # the tick stays on the line of its stage name


def test_a_closed_deal_has_no_next_step_form_no_overdue_and_says_when_it_closed(client, world, make_deal):
    deal = make_deal(title="Closed with an old next step", amount=5000)
    services.set_next_step(deal, by=world.alice, text="Call back", due=timezone.localdate() + dt.timedelta(days=2))
    services.move_deal(deal, "lost", by=world.alice, lost_reason="competitor", lost_note="Went with Globex")
    Deal.objects.filter(pk=deal.pk).update(next_step_due=timezone.localdate() - dt.timedelta(days=30),
                                           expected_close_date=dt.date(2031, 5, 17))
    client.force_login(world.alice)
    html = _page(client, Deal.objects.get(pk=deal.pk))
    assert 'name="next_step"' not in html
    assert "Overdue" not in html
    closed_on = timezone.localdate(Deal.objects.get(pk=deal.pk).closed_at)
    start = html.index('class="deal-sub"')
    header = html[start:html.index("</p>", start)]
    assert f"lost {closed_on.day} {closed_on:%b}" in header  # the one date format: the year only when not this one
    assert "2031" not in header  # the planned close date is not the close
    assert "Lost: Chose a competitor — Went with Globex" in html
    assert f"Closed {closed_on.day} {closed_on:%b} from Qualify, after 0 days there" in html
    assert "Mark lost" not in html
