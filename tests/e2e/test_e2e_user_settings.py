"""User settings in a real browser: an admin adds a user, fixes a refused field, deactivates a rep."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model

from tests.e2e.conftest import shot, sign_in

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_an_admin_adds_a_user_and_deactivates_one_who_then_cannot_sign_in(page, browser, live_server, world):
    sign_in(page, "dave", world.password)
    page.get_by_role("link", name="Settings").click()
    page.get_by_role("link", name="Users and teams").click()
    page.get_by_text("Add a user").click()

    form = page.locator("#user-add")
    form.locator("input[name=username]").fill("erin")
    form.locator("input[name=first_name]").fill("Erin")
    form.locator("input[name=email]").fill("erin@example.com")
    form.locator("select[name=role]").select_option("manager")
    form.locator("select[name=team]").select_option(label="West")
    form.locator("input[name=password]").fill("short")
    form.get_by_role("button", name="Add user").click()
    error = page.locator("#user-add #error-password")
    error.wait_for()
    assert "too short" in error.inner_text()
    assert page.locator("#user-add input[name=username]").input_value() == "erin"  # kept

    page.locator("#user-add input[name=password]").fill("a-long-first-password")
    page.locator("#user-add").get_by_role("button", name="Add user").click()
    page.get_by_text("Created erin.").wait_for()
    erin = get_user_model().objects.get(username="erin")
    assert (erin.profile.role, erin.profile.team.name) == ("manager", "West")

    row = page.locator(f"#user-{world.alice.pk}")
    row.get_by_role("button", name="Deactivate").click()
    page.get_by_text("Deactivated alice.").wait_for()
    assert page.locator(f"#user-{world.alice.pk}").get_by_role("button", name="Reactivate").is_visible()
    shot(page, "settings-users", full_page=True)

    other = browser.new_context(base_url=live_server.url)
    try:
        tab = other.new_page()
        tab.goto("/login/")
        tab.fill("input[name=username]", "alice")
        tab.fill("input[name=password]", world.password)
        tab.click("button[type=submit]")
        tab.wait_for_load_state()
        assert "/login/" in tab.url
        sign_in(tab, "erin", "a-long-first-password")
        assert tab.locator(".who").inner_text().lower().startswith("erin manager")
    finally:
        other.close()
