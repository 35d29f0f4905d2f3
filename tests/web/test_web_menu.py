"""The top menu is one <details>: a row on a wide screen, a "Menu" button on a phone that opens without
JavaScript (the CSS decides which; tests/e2e/test_e2e_phone.py checks both in Chromium)."""

from __future__ import annotations

from django.urls import reverse


def _menu(html: str) -> str:
    start = html.index('<details class="menu"')
    return html[start:html.index("</details>", start)]


def test_every_menu_item_and_sign_out_sit_inside_the_menu_button(client, world):
    client.force_login(world.dave)
    menu = _menu(client.get(reverse("web:deals")).content.decode())
    assert '<summary class="menu-button">' in menu
    for href in ("/", reverse("web:deals"), "/tokens/", reverse("web:settings"), reverse("web:settings_audit")):
        assert f'href="{href}"' in menu
    assert "Sign out" in menu


def test_a_signed_out_visitor_gets_no_menu(client, world):
    assert '<details class="menu"' not in client.get(reverse("web:login")).content.decode()
