"""The access rules themselves (dealgate.people.access), asked directly for each kind of user:
anonymous, a user with no profile (e.g. made with `createsuperuser`'s cousin `create_user`), rep,
manager, admin, superuser, and a rep granted the override permission."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AnonymousUser, Permission

from dealgate.deals.models import Deal
from dealgate.people.access import can_edit_deal, can_override, can_view_deal, deal_scope, role_of, team_id_of, visible_deals


@pytest.fixture
def deals(world, make_deal):
    """East: alice's and bob's. West: carol's. Plus a deal of alice's with no team (made before teams)."""
    east = make_deal(owner=world.alice, title="Alice East")
    bobs = make_deal(owner=world.bob, title="Bob East")
    west = make_deal(owner=world.carol, title="Carol West")
    teamless = make_deal(owner=world.alice, title="Alice no team")
    Deal.objects.filter(pk=teamless.pk).update(team=None)
    return {d.title: Deal.objects.get(pk=d.pk) for d in (east, bobs, west, teamless)}


def titles(user) -> set[str]:
    return set(visible_deals(user).values_list("title", flat=True))


def test_each_role_sees_its_own_its_teams_or_every_deal(world, deals):
    assert titles(world.alice) == {"Alice East", "Bob East", "Alice no team"}
    assert titles(world.bob) == {"Alice East", "Bob East"}  # alice's team-less deal is hers alone
    assert titles(world.carol) == {"Carol West"}
    assert titles(world.dave) == set(deals)


def test_the_scope_filter_matches_the_one_deal_check(world, deals):
    """deal_scope (lists) and can_view_deal (one deal) must agree for every user and deal."""
    for user in (world.alice, world.bob, world.carol, world.dave):
        in_scope = set(Deal.objects.filter(deal_scope(user)).values_list("title", flat=True))
        assert in_scope == {title for title, deal in deals.items() if can_view_deal(user, deal)}, user.username


def test_anonymous_and_missing_users_see_and_change_nothing(deals):
    for user in (None, AnonymousUser()):
        assert role_of(user) == ""
        assert visible_deals(user).count() == 0
        assert not can_view_deal(user, deals["Alice East"])
        assert not can_edit_deal(user, deals["Alice East"])
        assert not can_override(user)


def test_a_user_without_a_profile_is_a_rep_of_no_team(world, make_deal):
    plain = get_user_model().objects.create_user(username="plain", password="x")
    assert (role_of(plain), team_id_of(plain)) == ("rep", None)
    own = make_deal(owner=plain, title="Plain's")
    make_deal(owner=world.alice, title="Alice's")
    assert titles(plain) == {"Plain's"}
    assert can_edit_deal(plain, own) and not can_override(plain)


def test_a_superuser_is_an_admin_whatever_the_profile_says(world, deals):
    world.alice.is_superuser = True
    assert role_of(world.alice) == "admin"
    assert titles(world.alice) == set(deals) and can_edit_deal(world.alice, deals["Carol West"])


def test_who_may_change_a_deal(world, deals):
    east, bobs, west, teamless = (deals[t] for t in ("Alice East", "Bob East", "Carol West", "Alice no team"))
    assert can_edit_deal(world.alice, east) and not can_edit_deal(world.alice, bobs)  # a rep: own deals only
    assert can_edit_deal(world.bob, east) and can_edit_deal(world.bob, bobs)  # a manager: the team's
    assert not can_edit_deal(world.bob, west) and not can_edit_deal(world.bob, teamless)
    assert can_edit_deal(world.dave, west)
    assert not can_edit_deal(world.carol, east)


def test_only_managers_admins_and_holders_of_the_permission_override(world):
    assert [can_override(u) for u in (world.alice, world.bob, world.carol, world.dave)] == [False, True, False, True]
    world.carol.user_permissions.add(Permission.objects.get(codename="override_gate"))
    carol = get_user_model().objects.get(pk=world.carol.pk)  # permissions are cached per user object
    assert can_override(carol)


# --- who may create a deal for whom, and whom the new-deal form offers -----------------------------


def test_who_may_create_a_deal_for_whom(world):
    """A rep only for themselves (not for a colleague, not for no one); a manager and an admin for
    anyone, another team's rep included; the system (None) for anyone; an anonymous visitor for
    nobody, not even for a user it is handed."""
    from dealgate.people.access import can_create_deal_for

    w = world
    assert (can_create_deal_for(w.alice, w.alice), can_create_deal_for(w.alice, w.carol),
            can_create_deal_for(w.alice, None)) == (True, False, False)
    assert (can_create_deal_for(w.bob, w.carol), can_create_deal_for(w.bob, None)) == (True, True)
    assert (can_create_deal_for(w.dave, w.carol), can_create_deal_for(None, w.carol)) == (True, True)
    assert can_create_deal_for(AnonymousUser(), w.alice) is False


def test_the_new_deal_form_offers_each_role_its_owners_by_name(world):
    """Active users by first name: Alice, Bob (East's manager), Carol (West), Dave (admin), and Erin
    (East, deactivated: never offered). An admin is offered every active user; East's manager himself
    and East (Alice); a rep herself; a manager of no team only himself; an anonymous visitor no one."""
    from dealgate.people.access import owners_for_new_deals
    from dealgate.people.services import create_user, set_active

    w = world
    erin = create_user(username="erin", password=None, role="rep", team=w.east, first_name="Erin")
    set_active(erin, False, by=w.dave)
    loner = create_user(username="lee", password=None, role="manager", first_name="Lee")

    def offered(user) -> list[str]:
        return list(owners_for_new_deals(user).values_list("username", flat=True))

    assert offered(w.dave) == ["alice", "bob", "carol", "dave", "lee"]
    assert offered(w.bob) == ["alice", "bob"]
    assert offered(w.alice) == ["alice"]
    assert offered(w.carol) == ["carol"]
    assert offered(loner) == ["lee"]
    assert offered(AnonymousUser()) == []


def test_the_owners_offered_are_ordered_by_first_name_then_last_name_then_username(world):
    """Ann Zeta before Bea Alpha (first name first, though Alpha < Zeta); Sam Adams (sam_z) before Sam
    Young (sam_a) (then last name, though sam_a < sam_z); Kim Lee kim_a before Kim Lee kim_b (then
    username; kim_b is created first). The world's Alice, Bob, Carol and Dave fall in between."""
    from dealgate.people.access import owners_for_new_deals
    from dealgate.people.services import create_user

    for username, first, last in (("ann", "Ann", "Zeta"), ("bea", "Bea", "Alpha"), ("sam_z", "Sam", "Adams"),
                                  ("sam_a", "Sam", "Young"), ("kim_b", "Kim", "Lee"), ("kim_a", "Kim", "Lee")):
        create_user(username=username, password=None, role="rep", first_name=first, last_name=last)
    assert list(owners_for_new_deals(world.dave).values_list("username", flat=True)) == [
        "alice", "ann", "bea", "bob", "carol", "dave", "kim_a", "kim_b", "sam_z", "sam_a"]
