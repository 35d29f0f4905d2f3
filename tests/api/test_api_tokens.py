"""Personal API tokens: made and revoked in the app, shown once, stored as a hash only."""

from __future__ import annotations

import hashlib
import re

from django.forms.models import model_to_dict

from dealgate.api.models import ApiToken


def create_on_page(client, name="ERP sync"):
    response = client.post("/tokens/", {"name": name})
    assert response.status_code == 200
    match = re.search(r'<code id="new-token">([^<]+)</code>', response.content.decode())
    assert match, "the new token is shown on the page that created it"
    return match.group(1), response


def test_it_shows_a_new_token_once_and_stores_only_its_hash(client, world):
    client.force_login(world.alice)
    secret, response = create_on_page(client)
    assert response["Cache-Control"] == "no-store"
    token = ApiToken.objects.get(user=world.alice)
    assert token.hash == hashlib.sha256(secret.encode()).hexdigest()
    assert secret.startswith(token.prefix)
    assert all(secret not in str(value) for value in model_to_dict(token).values())
    later = client.get("/tokens/").content.decode()
    assert secret not in later
    assert token.prefix in later and "ERP sync" in later


def test_the_token_from_the_page_opens_the_api(client, world, pipeline):
    client.force_login(world.alice)
    secret, _ = create_on_page(client)
    client.logout()
    response = client.get("/api/deals", headers={"Authorization": f"Bearer {secret}"})
    assert response.status_code == 200
    assert ApiToken.objects.get(user=world.alice).last_used_at is not None


def test_a_revoked_token_stops_working(client, world, pipeline):
    client.force_login(world.alice)
    secret, _ = create_on_page(client)
    token = ApiToken.objects.get(user=world.alice)
    response = client.post(f"/tokens/{token.pk}/revoke/")
    assert response.status_code == 302
    token.refresh_from_db()
    assert token.revoked_at is not None
    assert "revoked" in client.get("/tokens/").content.decode()
    client.logout()
    assert client.get("/api/deals", headers={"Authorization": f"Bearer {secret}"}).status_code == 401


def test_it_refuses_to_revoke_someone_elses_token(client, world):
    client.force_login(world.alice)
    create_on_page(client)
    token = ApiToken.objects.get(user=world.alice)
    client.force_login(world.carol)
    assert client.post(f"/tokens/{token.pk}/revoke/").status_code == 404
    token.refresh_from_db()
    assert token.revoked_at is None


def test_it_lists_only_the_callers_tokens(client, world):
    client.force_login(world.alice)
    create_on_page(client, "alice's script")
    client.force_login(world.carol)
    assert "alice&#x27;s script" not in client.get("/tokens/").content.decode()


def test_it_asks_for_a_name(client, world):
    client.force_login(world.alice)
    response = client.post("/tokens/", {"name": "  "})
    assert response.status_code == 422
    assert not ApiToken.objects.exists()


def test_the_token_pages_need_a_login(client, world):
    response = client.get("/tokens/")
    assert response.status_code == 302
    assert response["Location"].startswith("/login/")
