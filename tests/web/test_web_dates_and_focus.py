"""One date format on every page, overdue next steps on the deals list, the import page's buttons, and the
field a failed sign-in puts the cursor in."""

from __future__ import annotations

import datetime as dt

from django.urls import reverse
from django.utils import timezone

from dealgate import words
from dealgate.deals import services


def test_a_date_reads_day_month_and_the_year_only_when_it_is_not_this_year():
    """With today 3 Dec 2026: 8 Dec 2026 -> "8 Dec"; 3 Feb 2027 -> "3 Feb 2027" (was "Dec 8", 12/08/2026, 2027-02-03)."""
    today = dt.date(2026, 12, 3)
    assert words.day(dt.date(2026, 12, 8), today) == "8 Dec"
    assert words.day(dt.date(2027, 2, 3), today) == "3 Feb 2027"
    assert words.day(None, today) == ""


def test_a_us_browser_reads_month_first_as_its_date_picker_and_every_other_day_first():
    """Accept-Language picks the date locale (decision 033): en-US first -> "Dec 8", "Feb 3, 2027";
    anything else (en-GB, de, none, junk) -> "8 Dec", "3 Feb 2027"."""
    today = dt.date(2026, 12, 3)
    for header, locale in (("en-US,en;q=0.9", "en-us"), ("en-us", "en-us"), ("de;q=0.5, EN-US", "en-us"),
                           ("en-GB,en-US;q=0.8", "en"), ("en", "en"), ("de-DE,de", "en"), ("", "en"),
                           ("en-US;q=0.1, fr", "en"), ("en-US;q=x", "en"), ("\x00" * 9999, "en"), ("*", "en")):
        assert words.date_locale_from(header) == locale, header
    with words.dates_for("en-us"):
        assert words.day(dt.date(2026, 12, 8), today) == "Dec 8"
        assert words.day(dt.date(2027, 2, 3), today) == "Feb 3, 2027"
        assert words.day_span(dt.date(2026, 11, 23), dt.date(2026, 11, 29)) == "Nov 23–29, 2026"
        assert words.day_span(dt.date(2026, 11, 30), dt.date(2026, 12, 6)) == "Nov 30–Dec 6, 2026"
    assert words.day(dt.date(2026, 12, 8), today) == "8 Dec"  # outside the block: the default again
    assert words.day_span(dt.date(2026, 11, 30), dt.date(2026, 12, 6)) == "30 Nov–6 Dec 2026"
    with words.dates_for("xx-nonsense"):
        assert words.day(dt.date(2027, 2, 3), today) == "3 Feb 2027"


def test_pages_print_dates_in_the_browsers_locale_and_keep_iso_in_date_inputs_and_the_api(client, world, make_deal):
    today = timezone.localdate()
    deal = make_deal(title="Far one", expected_close_date=dt.date(today.year + 1, 2, 3))
    client.force_login(world.alice)
    us = client.get(reverse("web:deals"), headers={"Accept-Language": "en-US,en;q=0.9"}).content.decode()
    assert f"Feb 3, {today.year + 1}</td>" in us and f"3 Feb {today.year + 1}" not in us
    gb = client.get(reverse("web:deals"), headers={"Accept-Language": "en-GB"}).content.decode()
    assert f"3 Feb {today.year + 1}</td>" in gb and f"Feb 3, {today.year + 1}" not in gb
    page = client.get(reverse("web:deal", args=[deal.pk]), headers={"Accept-Language": "en-US"}).content.decode()
    assert f'value="{today.year + 1}-02-03"' in page  # the date input's value stays ISO; the browser shows it
    api = client.get(f"/api/deals/{deal.pk}", headers={"Accept-Language": "en-US"}).json()
    assert api["expected_close_date"] == f"{today.year + 1}-02-03"


def test_the_deals_list_marks_an_overdue_next_step_and_uses_the_same_date_format(client, world, make_deal):
    """Next step due yesterday: "overdue since <day>"; one due in 2 days: just the day, in the muted style."""
    today = timezone.localdate()
    late = make_deal(title="Late one", expected_close_date=dt.date(today.year + 1, 2, 3))
    services.set_next_step(late, by=world.alice, text="Chase", due=today - dt.timedelta(days=1))
    soon = make_deal(title="Soon one")
    services.set_next_step(soon, by=world.alice, text="Call", due=today + dt.timedelta(days=2))
    client.force_login(world.alice)
    html = client.get(reverse("web:deals")).content.decode()
    assert f"overdue since {words.day(today - dt.timedelta(days=1))}" in html
    assert f'<span class="muted small">{words.day(today + dt.timedelta(days=2))}</span>' in html
    assert f"3 Feb {today.year + 1}" in html and f"{today.year + 1}-02-03</td>" not in html


def test_after_a_failed_sign_in_the_password_field_has_the_focus_and_the_name_is_kept(client, world):
    response = client.post("/login/", {"username": "alice", "password": "wrong"})
    html = response.content.decode()
    assert response.status_code == 200
    assert 'value="alice"' in html
    password = html[html.index('name="password"'):]
    assert "autofocus" in password[:password.index(">")]
    username = html[html.index('name="username"'):]
    assert "autofocus" not in username[:username.index(">")]
    first = client.get("/login/").content.decode()  # a fresh page starts on the user name
    username = first[first.index('name="username"'):]
    assert "autofocus" in username[:username.index(">")]


def test_the_import_page_buttons_are_styled_and_no_file_path_is_shown(client, world):
    client.force_login(world.dave)
    html = client.get(reverse("imports:home")).content.decode()
    assert '<button type="submit" class="btn primary">Upload and map columns</button>' in html
    assert "docs/importing.md" not in html
    assert "<button type=\"submit\">" not in html


def test_the_weekly_review_prints_its_week_in_the_browsers_locale(client, world, pipeline):
    """Its "from Monday ... to Sunday ..." line goes through the same `day` filter (it printed "j M" itself)."""
    import re

    client.force_login(world.dave)
    gb = client.get(reverse("analytics:review"), headers={"Accept-Language": "en-GB"})
    us = client.get(reverse("analytics:review"), headers={"Accept-Language": "en-US"})
    assert gb.status_code == us.status_code == 200
    assert re.search(r"from Monday \d{1,2} [A-Z][a-z]{2}( \d{4})? to Sunday \d{1,2} [A-Z][a-z]{2}", gb.content.decode())
    assert re.search(r"from Monday [A-Z][a-z]{2} \d{1,2}(, \d{4})? to Sunday [A-Z][a-z]{2} \d{1,2}", us.content.decode())
