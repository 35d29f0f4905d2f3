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


def test_the_menu_hides_what_a_role_cannot_open_and_a_refused_page_is_styled_with_the_menu(client, world):
    """A rep has no Import or Settings in the menu (both answer 403 for a rep); typed in anyway, the
    address answers with the app's page, its menu and why, not Django's bare "403 Forbidden"."""
    client.force_login(world.alice)
    menu = _menu(client.get(reverse("web:deals")).content.decode())
    assert 'href="/imports/"' not in menu and f'href="{reverse("web:settings")}"' not in menu
    assert client.get("/imports/").status_code == 403
    refused = client.get(reverse("web:settings"))
    page = refused.content.decode()
    assert refused.status_code == 403 and '<details class="menu"' in page and "<h1>Not for your role</h1>" in page
    assert "Only an administrator may change the settings." in page and "403 Forbidden" not in page
    client.force_login(world.bob)  # a manager imports
    assert 'href="/imports/"' in _menu(client.get(reverse("web:deals")).content.decode())
    assert client.get("/imports/").status_code == 200
