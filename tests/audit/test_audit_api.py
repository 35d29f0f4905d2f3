"""GET /api/audit: the log for admins, with the page's filters and the API's cursor pagination."""

from __future__ import annotations

from dealgate.api.services import create_token
from dealgate.deals import services


def get(client, user, **params):
    secret = create_token(user=user, name="audit")[1]
    return client.get("/api/audit", params, headers={"Authorization": f"Bearer {secret}"})


def test_it_lists_an_objects_changes_newest_first_for_an_admin(client, world, make_deal):
    deal = make_deal(amount="100")
    services.update_deal(deal, by=world.bob, amount="300")
    response = get(client, world.dave, object_type="deal", object_id=str(deal.pk))
    assert response.status_code == 200, response.content
    items = response.json()["items"]
    assert [(i["action"], i["field"], i["before"], i["after"], i["by"]) for i in items] == [
        ("changed", "amount", "100.00", "300.00", "bob"), ("created", "stage", "", "Qualify", "alice")]
    assert response.json()["next_cursor"] is None


def test_it_pages_with_a_cursor(client, world, make_deal):
    for n in range(3):
        make_deal(title=f"Deal {n}")
    first = get(client, world.dave, object_type="deal", limit=2).json()
    second = get(client, world.dave, object_type="deal", limit=2, cursor=first["next_cursor"]).json()
    assert [i["object_name"] for i in first["items"] + second["items"]] == ["Deal 2", "Deal 1", "Deal 0"]


def test_it_refuses_reps_and_managers(client, world):
    assert get(client, world.alice).status_code == 403
    assert get(client, world.bob).status_code == 403


def test_it_answers_a_bad_filter_with_422_naming_it(client, world):
    response = get(client, world.dave, since="31/12/2026")
    assert response.status_code == 422
    assert "since" in response.json()["details"]
