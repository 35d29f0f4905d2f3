"""User settings (issue #4): admins add users, set role and team, deactivate and reactivate, name teams."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import reverse

from dealgate.api.services import create_token
from dealgate.people.access import role_of
from dealgate.people.models import Team

User = get_user_model()
NEW_USER = {"username": "erin", "first_name": "Erin", "last_name": "Ng", "email": "erin@example.com",
            "role": "rep", "team": "", "password": "a-long-first-password"}


def act(action: str, target: int | None = None) -> str:
    args = [action] + ([target] if target is not None else [])
    return reverse("web:settings_users_action", args=args)


def as_admin(client, world):
    client.force_login(world.dave)
    return client


# --- permissions -----------------------------------------------------------------------------------


def every_request(world):
    return [
        ("get", reverse("web:settings_users"), {}),
        ("post", act("user-add"), NEW_USER),
        ("post", act("user", world.alice.pk), {"role": "admin", "team": ""}),
        ("post", act("user-active", world.carol.pk), {"active": "0"}),
        ("post", act("team-add"), {"name": "North"}),
        ("post", act("team", world.east.pk), {"name": "Renamed"}),
    ]


@pytest.mark.parametrize("who", ["alice", "bob"])
def test_reps_and_managers_get_403_on_every_user_settings_view_and_change_nothing(client, world, who):
    client.force_login(getattr(world, who))
    for method, url, data in every_request(world):
        assert getattr(client, method)(url, data).status_code == 403, url
    assert not User.objects.filter(username="erin").exists()
    assert role_of(User.objects.get(pk=world.alice.pk)) == "rep"
    assert User.objects.get(pk=world.carol.pk).is_active
    assert sorted(Team.objects.values_list("name", flat=True)) == ["East", "West"]


def test_anonymous_visitors_are_sent_to_sign_in(client, world):
    for method, url, data in every_request(world):
        response = getattr(client, method)(url, data)
        assert response.status_code == 302 and reverse("web:login") in response["Location"], url


def test_a_post_without_the_csrf_token_is_refused(world):
    client = Client(enforce_csrf_checks=True)
    client.force_login(world.dave)
    assert client.post(act("team-add"), {"name": "North"}).status_code == 403
    assert not Team.objects.filter(name="North").exists()


def test_the_settings_page_links_to_users_for_admins(client, world):
    html = as_admin(client, world).get(reverse("web:settings")).content.decode()
    assert reverse("web:settings_users") in html


# --- listing and creating ----------------------------------------------------------------------------


def test_an_admin_sees_every_user_with_role_and_team(client, world):
    html = as_admin(client, world).get(reverse("web:settings_users")).content.decode()
    for user in (world.alice, world.bob, world.carol, world.dave):
        assert f'id="user-{user.pk}"' in html
    row = html[html.index(f'id="user-{world.carol.pk}"'):html.index("</tr>", html.index(f'id="user-{world.carol.pk}"'))]
    assert '<option value="rep" selected>' in row and f'<option value="{world.west.pk}" selected>' in row


def test_an_admin_creates_a_user_who_can_sign_in(client, world):
    response = as_admin(client, world).post(act("user-add"), {**NEW_USER, "role": "manager",
                                                              "team": str(world.west.pk)})
    assert response.status_code == 302
    erin = User.objects.get(username="erin")
    assert (erin.email, erin.get_full_name(), erin.profile.role, erin.profile.team) == (
        "erin@example.com", "Erin Ng", "manager", world.west)
    assert Team.objects.get(pk=world.west.pk).manager == erin  # West had no manager
    assert Client().login(username="erin", password=NEW_USER["password"])


@pytest.mark.parametrize("change, field, says", [
    ({"username": "alice"}, "username", "is taken"),
    ({"username": "bad name!"}, "username", "Enter a valid username"),
    ({"email": "not-an-email"}, "email", "is not an email address"),
    ({"password": "short"}, "password", "too short"),
    ({"password": ""}, "password", "is required"),
    ({"role": "boss"}, "role", "is not one of"),
    ({"team": "999999"}, "team", "no team"),
])
def test_a_bad_new_user_gets_the_error_next_to_the_field_and_nothing_is_written(client, world, change, field, says):
    before = User.objects.count()
    response = as_admin(client, world).post(act("user-add"), {**NEW_USER, **change})
    assert response.status_code == 422
    html = response.content.decode()
    error = html.index(f'id="error-{field}"')
    assert says in html[error:html.index("</span>", error)]
    assert html.rindex(f'name="{field}"', 0, error) > html.index('id="user-add"')  # beside its input
    assert User.objects.count() == before
    assert 'value="Erin"' in html  # what was typed is kept


# --- role, team, active ----------------------------------------------------------------------------


def test_an_admin_changes_role_and_team(client, world):
    as_admin(client, world).post(act("user", world.alice.pk), {"role": "manager", "team": str(world.west.pk)})
    alice = User.objects.get(pk=world.alice.pk)
    assert (alice.profile.role, alice.profile.team_id) == ("manager", world.west.pk)
    assert Team.objects.get(pk=world.west.pk).manager_id == alice.pk


def test_promoting_to_admin_and_back_sets_and_clears_the_admin_flags(client, world):
    as_admin(client, world).post(act("user", world.carol.pk), {"role": "admin", "team": ""})
    carol = User.objects.get(pk=world.carol.pk)
    assert (role_of(carol), carol.is_staff, carol.is_superuser) == ("admin", True, True)
    client.post(act("user", world.carol.pk), {"role": "rep", "team": str(world.west.pk)})
    carol = User.objects.get(pk=world.carol.pk)
    assert (role_of(carol), carol.is_staff, carol.is_superuser) == ("rep", False, False)


def test_a_manager_leaving_the_team_stops_managing_it(client, world):
    assert Team.objects.get(pk=world.east.pk).manager_id == world.bob.pk
    as_admin(client, world).post(act("user", world.bob.pk), {"role": "rep", "team": str(world.east.pk)})
    assert Team.objects.get(pk=world.east.pk).manager_id is None


def test_the_only_admin_cannot_be_demoted_or_deactivate_themself(client, world):
    as_admin(client, world)
    demote = client.post(act("user", world.dave.pk), {"role": "rep", "team": ""})
    assert demote.status_code == 422 and "only active administrator" in demote.content.decode()
    myself = client.post(act("user-active", world.dave.pk), {"active": "0"})
    assert myself.status_code == 422 and "cannot deactivate yourself" in myself.content.decode()
    dave = User.objects.get(pk=world.dave.pk)
    assert dave.is_active and role_of(dave) == "admin"


def test_a_deactivated_user_cannot_sign_in_and_their_session_and_token_stop_working(client, world):
    _, secret = create_token(user=world.alice, name="script")
    headers = {"Authorization": f"Bearer {secret}"}
    alices_browser = Client()
    alices_browser.force_login(world.alice)
    assert Client().get("/api/tokens", headers=headers).status_code == 200
    assert alices_browser.get(reverse("web:deals")).status_code == 200

    assert as_admin(client, world).post(act("user-active", world.alice.pk), {"active": "0"}).status_code == 302

    assert not User.objects.get(pk=world.alice.pk).is_active
    assert not Client().login(username="alice", password=world.password)
    refused = Client().post(reverse("web:login"), {"username": "alice", "password": world.password})
    assert refused.status_code == 200 and "_auth_user_id" not in refused.client.session
    assert alices_browser.get(reverse("web:deals")).status_code == 302  # signed out
    assert Client().get("/api/tokens", headers=headers).status_code == 401
    assert "Deactivated" in client.get(reverse("web:settings_users")).content.decode()

    client.post(act("user-active", world.alice.pk), {"active": "1"})
    assert Client().login(username="alice", password=world.password)
    assert Client().get("/api/tokens", headers=headers).status_code == 200


# --- teams -------------------------------------------------------------------------------------------


def test_an_admin_creates_and_renames_teams(client, world):
    as_admin(client, world).post(act("team-add"), {"name": "North"})
    north = Team.objects.get(name="North")
    client.post(act("team", north.pk), {"name": "North America"})
    assert Team.objects.get(pk=north.pk).name == "North America"


@pytest.mark.parametrize("name, says", [("west", "already exists"), ("   ", "is required"), ("x" * 101, "at most 100")])
def test_a_bad_team_name_is_refused_next_to_the_field(client, world, name, says):
    response = as_admin(client, world).post(act("team", world.east.pk), {"name": name})
    assert response.status_code == 422
    html = response.content.decode()
    error = html.index('id="error-name"')
    assert says in html[error:html.index("</span>", error)] and error > html.index(f'id="team-{world.east.pk}"')
    assert Team.objects.get(pk=world.east.pk).name == "East"


def test_an_unknown_action_is_404(client, world):
    assert as_admin(client, world).post(act("user-delete", world.alice.pk)).status_code == 404
    assert User.objects.filter(pk=world.alice.pk).exists()
