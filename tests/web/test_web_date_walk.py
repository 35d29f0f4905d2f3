"""Every page a person reads prints dates one way ("8 Dec", "3 Feb 2027": dealgate.words.day).

The walk visits every GET page of the web app (the URL list comes from Django's resolver, through
tests/security/urlwalk.py, so a new page is walked the day it is added) as an admin and as a rep, on a
world with a dated thing of every kind: deals with next steps and close dates, a won deal with its
handoff, tasks (open and done), notifications, a webhook delivery, a signal, order lines and a quote,
a quota, audit rows, an API token. It reads the visible text only (no attributes, scripts or styles:
an <input type="date"> must carry ISO in its value) and fails on an ISO date (2026-11-27), a US one
(11/27/2026) or a month-first one (Nov 27).
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from html.parser import HTMLParser

import pytest
from django.utils import timezone

from dealgate.deals import services
from tests.security import urlwalk

ISO = re.compile(r"(?<![\d-])\d{4}-\d{2}-\d{2}(?![\d-])")
US = re.compile(r"(?<![\d/])\d{1,2}/\d{1,2}/\d{4}(?![\d/])")
# "Dec 3", not "30 Nov 2 rows" ("May" is left out: it is also a word).
MONTH_FIRST = re.compile(r"(?<!\d )\b(?:Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{1,2}(?![\d:])")
# "8 Dec", for a US browser's walk (it reads "Dec 8": decision 033); not "rate 0.9 Dec 4" nor "Dec 1 Dec 4"
# (two cells side by side).
DAY_FIRST = re.compile(r"(?<![\d.])\b\d{1,2} (?:Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sep|Oct|Nov|Dec)\b(?! \d{1,2}\b)")
WRONG_ORDER = {"en": MONTH_FIRST, "en-US": DAY_FIRST}
# Pages that are not read as pages: the API's own docs (field examples), the Django admin, downloads.
SKIP_PREFIXES = ("api/", "admin/")


class VisibleText(HTMLParser):
    """Text nodes outside <script>, <style>, <template> and <noscript>."""

    HIDDEN = {"script", "style", "template", "noscript"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.depth = 0
        self.parts: list[str] = []

    def handle_starttag(self, tag: str, attrs: list) -> None:
        if tag in self.HIDDEN:
            self.depth += 1

    def handle_endtag(self, tag: str) -> None:
        if tag in self.HIDDEN and self.depth:
            self.depth -= 1

    def handle_data(self, data: str) -> None:
        if not self.depth:
            self.parts.append(data)


def visible_text(html: str) -> str:
    parser = VisibleText()
    parser.feed(html)
    return " ".join(" ".join(parser.parts).split())


def bad_dates(text: str, language: str = "en") -> list[str]:
    found = []
    for pattern in (ISO, US, WRONG_ORDER[language]):
        for match in pattern.finditer(text):
            found.append(text[max(0, match.start() - 40):match.end() + 20])
    return found


def test_the_checker_finds_iso_and_us_dates_in_text_and_not_in_attributes():
    html = ('<p>Due 2026-11-27 or 11/27/2026</p><input type="date" value="2026-11-27">'
            '<script>var d = "2026-11-27";</script><p>27 Nov, 2026-Q4, Nov 2026, 1/2 done, 12,000</p><p>Sent Dec 3</p>')
    found = bad_dates(visible_text(html))
    assert len(found) == 3 and "Due 2026-11-27" in found[0] and "11/27/2026" in found[1] and "Sent Dec 3" in found[2]


def _dated_world(world, pipeline, make_deal):
    from dealgate.automation import services as automation
    from dealgate.signals.models import OrderLine, Quote

    w = urlwalk.build_world(world, pipeline, make_deal)
    today = timezone.localdate()
    # Dates in another year too, so the long form ("3 Feb 2027") shows up.
    services.set_next_step(w.deal_a, by=world.alice, text="Send terms", due=today - dt.timedelta(days=3))
    services.update_deal(w.deal_a, by=world.alice, expected_close_date=dt.date(today.year + 1, 2, 3))
    services.update_deal(w.deal_a, by=world.alice, expected_close_date=dt.date(today.year + 1, 3, 4))
    won = make_deal(owner=world.alice, title="Won last week", amount=500, account=w.account_a)
    services.move_deal(won, "won", by=world.dave, override_reason="signed on paper")
    task = automation.create_task(by=world.alice, title="Done already", due=today, deal=w.deal_a)
    automation.complete_task(task, by=world.alice)
    for n, days in enumerate((400, 300, 200, 100, 30)):
        OrderLine.objects.create(account=w.account_a, order_id=f"O{n}", line_key=f"O{n}-1",
                                 ordered_at=today - dt.timedelta(days=days), product="Widget",
                                 product_line="Widgets", quantity=Decimal("1"), revenue=Decimal("100"))
    Quote.objects.create(account=w.account_a, number="Q-1", amount=Decimal("900"), issued=today - dt.timedelta(days=5),
                         expires=today + dt.timedelta(days=25))
    return w


def test_the_us_checker_finds_day_first_dates():
    found = bad_dates(visible_text("<p>Due 8 Dec, 2 rows, 3 days, Dec 8, Feb 3, 2027</p><td>Dec 1</td><td>Dec 4</td>"
                                   "<td>rate 0.9</td><td>Dec 4, 16:35</td>"), "en-US")
    assert len(found) == 1 and found[0].startswith("Due 8 Dec")


@pytest.mark.parametrize("language", ["en", "en-US"])
def test_no_page_prints_an_iso_or_us_date(world, pipeline, make_deal, language):
    """Every page in the default locale (day first), and for a browser asking for en-US (month first)."""
    from dealgate.words import date_locale_from, dates_for

    with dates_for(date_locale_from(language)):  # what the world's writers typed, as a browser in that locale
        w = _dated_world(world, pipeline, make_deal)
    clients = urlwalk.clients(w)
    for client in clients.values():
        client.defaults["HTTP_ACCEPT_LANGUAGE"] = language
    wrong, walked = [], 0
    for route in urlwalk.all_routes():
        if route.route.startswith(SKIP_PREFIXES):
            continue
        for url in urlwalk.concrete_urls(route, w):
            if "no-such" in url:
                continue
            for role in ("admin", "rep_a"):  # the manager sees a subset of the admin's pages
                answer = urlwalk.call(clients[role], "GET", url)
                if answer.status != 200:
                    continue
                text = answer.content.decode("utf-8", "replace")
                if not text.lstrip().lower().startswith(("<!doctype", "<html", "<")) or "<" not in text[:200]:
                    continue  # CSV, JSON, plain text: files, not pages
                walked += 1
                for snippet in bad_dates(visible_text(text), language):
                    wrong.append(f"{role} {url}: …{snippet}…")
    assert walked > 30  # the walk reached the pages
    assert not wrong, "Pages print dates in another format than dealgate.words.day:\n" + "\n".join(sorted(set(wrong)))
