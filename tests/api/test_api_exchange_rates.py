"""/api/exchange-rates: the same service as the settings page and `dealgate rates` (decision 035)."""

from __future__ import annotations

from dealgate.analytics.models import ExchangeRate
from dealgate.audit.models import AuditEntry


def test_an_admin_sets_lists_and_removes_a_rate(client, auth, world):
    body = {"currency": "usd", "rate": "0.92", "effective_from": "2026-11-01"}
    answer = client.put("/api/exchange-rates", body, content_type="application/json", headers=auth(world.dave))
    assert answer.status_code == 200, answer.content
    row = answer.json()
    assert (row["currency"], row["effective_from"], row["rate"]) == ("USD", "2026-11-01", "0.92")
    number = client.put("/api/exchange-rates", {**body, "rate": 0.93}, content_type="application/json",
                        headers=auth(world.dave))
    assert number.json()["rate"] == "0.93" and number.json()["id"] == row["id"]
    listed = client.get("/api/exchange-rates", headers=auth(world.alice)).json()  # everyone reads
    assert [(r["currency"], r["rate"]) for r in listed] == [("USD", "0.93")]
    assert client.delete(f"/api/exchange-rates/{row['id']}", headers=auth(world.dave)).status_code == 204
    assert client.delete(f"/api/exchange-rates/{row['id']}", headers=auth(world.dave)).status_code == 404
    assert AuditEntry.objects.filter(object_type="exchangerate", surface="api").count() == 3


def test_bad_input_and_the_wrong_role_are_refused_with_a_clear_message(client, auth, world):
    put = lambda body, who=world.dave: client.put(  # noqa: E731
        "/api/exchange-rates", {"currency": "USD", "rate": "0.9", "effective_from": "2026-11-01", **body},
        content_type="application/json", headers=auth(who))
    assert put({}, world.bob).status_code == 403
    for body, field in [({"rate": "-1"}, "rate"), ({"rate": "1" * 100_000}, "rate"), ({"rate": True}, "rate"),
                        ({"rate": "\u0660.\u0669"}, "rate"), ({"currency": "EUR"}, "currency"),
                        ({"currency": "U\x00D"}, "currency"), ({"effective_from": "9999-12-31"}, "effective_from"),
                        ({"effective_from": "0001-01-01"}, "effective_from"), ({"rate": 0}, "rate")]:
        answer = put(body)
        assert answer.status_code == 422, (body, answer.status_code)
        error = answer.json()
        assert error["code"] == "validation_failed" and error["message"], body
    assert client.delete("/api/exchange-rates/99999999999999999999", headers=auth(world.dave)).status_code in (404, 422)
    assert not ExchangeRate.objects.exists()
