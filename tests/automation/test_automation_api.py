"""The tasks API: access as for deals, clear 4xx answers for bad input."""

from __future__ import annotations

import datetime as dt

from django.utils import timezone

from dealgate.automation import services
from dealgate.automation.models import Task
from tests.api.conftest import auth, token_for  # noqa: F401  (fixtures)


def test_it_creates_lists_and_ticks_off_a_task(client, world, make_deal, auth):  # noqa: F811
    deal = make_deal(owner=world.alice)
    today = timezone.localdate()
    response = client.post("/api/tasks", {"title": "Call back", "due": str(today - dt.timedelta(days=1)),
                                          "deal": deal.pk}, content_type="application/json", headers=auth(world.alice))
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["title"], body["assignee"], body["deal"], body["overdue"], body["created_by"]) == (
        "Call back", "alice", deal.pk, True, "alice")
    listed = client.get("/api/tasks", {"overdue": "true"}, headers=auth(world.bob)).json()["items"]
    assert [t["id"] for t in listed] == [body["id"]]  # bob manages alice's team
    assert client.get("/api/tasks", headers=auth(world.carol)).json()["items"] == []
    patched = client.patch(f"/api/tasks/{body['id']}", {"done": True}, content_type="application/json",
                           headers=auth(world.alice))
    assert patched.status_code == 200 and patched.json()["done"] is True and patched.json()["overdue"] is False
    assert client.get("/api/tasks", headers=auth(world.alice)).json()["items"] == []  # open only by default
    assert len(client.get("/api/tasks", {"status": "done"}, headers=auth(world.alice)).json()["items"]) == 1


def test_another_teams_task_is_not_found(client, world, make_deal, auth):  # noqa: F811
    task = services.create_task(by=world.carol, deal=make_deal(owner=world.carol), title="x",
                                due=timezone.localdate())
    headers = auth(world.alice)
    assert client.patch(f"/api/tasks/{task.pk}", {"done": True}, content_type="application/json",
                        headers=headers).status_code == 404
    deal = make_deal(owner=world.carol)
    response = client.post("/api/tasks", {"title": "x", "due": "2030-01-01", "deal": deal.pk},
                           content_type="application/json", headers=headers)
    assert response.status_code == 404
    assert not Task.objects.filter(done=True).exists()


def test_bad_input_gets_a_clear_422(client, world, make_deal, auth):  # noqa: F811
    headers = auth(world.alice)
    deal = make_deal()
    missing_due = client.post("/api/tasks", {"title": "x", "deal": deal.pk}, content_type="application/json",
                              headers=headers)
    assert missing_due.status_code == 422 and "due" in missing_due.json()["details"]
    nowhere = client.post("/api/tasks", {"title": "x", "due": "2030-01-01"}, content_type="application/json",
                          headers=headers)
    assert nowhere.status_code == 422
    assert nowhere.json()["details"] == {"deal": ["a task belongs to a deal or an account"]}
    carol_cannot_see = client.post("/api/tasks", {"title": "x", "due": "2030-01-01", "deal": deal.pk,
                                                  "assignee": "carol"}, content_type="application/json",
                                   headers=auth(world.bob))
    assert carol_cannot_see.status_code == 422
    assert carol_cannot_see.json()["details"] == {"assignee": [f"carol cannot see deal {deal.pk}"]}


def test_a_rep_cannot_give_a_teammate_a_task_on_their_own_deal(client, world, make_deal, auth):  # noqa: F811
    deal = make_deal(owner=world.alice)
    response = client.post("/api/tasks", {"title": "x", "due": "2030-01-01", "deal": deal.pk, "assignee": "bob"},
                           content_type="application/json", headers=auth(world.alice))
    assert response.status_code == 403
