"""/api/quotas (issue 14): GET, PUT (set or replace), DELETE through the same quota service as the
settings page and `dealgate quota`; an admin any quota, a manager their team's, a rep reads their own."""

from __future__ import annotations

import pytest

from dealgate.analytics.models import Quota
from dealgate.audit.models import AuditEntry

Q4 = "2026-Q4"


def test_the_api_puts_lists_and_deletes_quotas(client, world, auth):
    body = {"owner": "alice", "period": "2026-q4", "amount": "500000.00"}
    put = client.put("/api/quotas", body, content_type="application/json", headers=auth(world.bob))
    assert put.status_code == 200, put.content
    assert put.json() | {"id": 0} == {"id": 0, "period": Q4, "owner": "alice", "team": None, "amount": "500000.00",
                                      "currency": "EUR"}
    assert [q["owner"] for q in client.get("/api/quotas", headers=auth(world.alice)).json()] == ["alice"]
    assert client.get("/api/quotas", headers=auth(world.carol)).json() == []
    assert client.get("/api/quotas", {"period": "2027"}, headers=auth(world.dave)).json() == []
    quota_id = put.json()["id"]
    assert client.delete(f"/api/quotas/{quota_id}", headers=auth(world.alice)).status_code == 403
    assert client.delete(f"/api/quotas/{quota_id}", headers=auth(world.carol)).status_code == 404
    assert client.delete(f"/api/quotas/{quota_id}", headers=auth(world.dave)).status_code == 204
    assert AuditEntry.objects.filter(object_type="quota", surface="api").count() == 2


@pytest.mark.parametrize(("body", "field"), [
    ({"owner": "alice", "period": Q4, "amount": -1}, "amount"),
    ({"owner": "alice", "period": Q4, "amount": 1, "currency": "QQQ"}, "currency"),
    ({"owner": "alice", "period": "next quarter", "amount": 1}, "period"),
    ({"owner": "nobody", "period": Q4, "amount": 1}, "owner"),
    ({"team": "North", "period": Q4, "amount": 1}, "team"),
    ({"period": Q4, "amount": 1}, "owner"),
    ({"owner": "alice", "period": Q4, "amount": 1, "months": 3}, "months"),
])
def test_the_api_refuses_bad_quotas_with_a_422_naming_the_field(client, world, auth, body, field):
    response = client.put("/api/quotas", body, content_type="application/json", headers=auth(world.dave))
    assert response.status_code == 422, response.content
    assert field in response.json()["details"]
    assert not Quota.objects.exists()


def test_a_rep_cannot_put_a_quota(client, world, auth):
    response = client.put("/api/quotas", {"owner": "alice", "period": Q4, "amount": 1},
                          content_type="application/json", headers=auth(world.alice))
    assert response.status_code == 403
