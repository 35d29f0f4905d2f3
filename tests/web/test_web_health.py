"""`/healthz` says whether the database answers and a worker takes jobs, for anyone (no login)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.management import call_command
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from dealgate.health import HEARTBEAT_PATH

pytestmark = pytest.mark.django_db


@pytest.mark.django_db(transaction=True)  # the worker closes its connection between jobs
def test_it_answers_200_as_json_without_a_login_while_the_worker_keeps_up(client):
    first = client.get("/healthz")
    assert first.status_code == 200
    assert first["Content-Type"] == "application/json" and "no-cache" in first["Cache-Control"]
    body = first.json()
    assert body["status"] == "ok" and body["database"] == {"ok": True}
    assert body["worker"]["heartbeat_age_seconds"] is None  # no worker has run a heartbeat yet
    call_command("db_worker", "--batch", "--no-startup-delay", verbosity=0)
    worker = client.get("/healthz").json()["worker"]
    assert worker["ok"] and worker["heartbeat_age_seconds"] is not None and worker["heartbeat_age_seconds"] < 5


def test_it_answers_503_when_the_heartbeat_waited_longer_than_the_limit(client, settings):
    settings.DEALGATE_WORKER_MAX_LAG = 60
    client.get("/healthz")  # enqueues the heartbeat; no worker runs
    DBTaskResult.objects.filter(task_path=HEARTBEAT_PATH).update(enqueued_at=timezone.now() - dt.timedelta(seconds=90))
    response = client.get("/healthz")
    assert response.status_code == 503
    worker = response.json()["worker"]
    assert response.json()["status"] == "unavailable" and worker["ok"] is False
    assert 90 <= worker["waiting_seconds"] < 100


@pytest.mark.django_db(transaction=True)
def test_it_keeps_one_finished_heartbeat_however_often_it_is_asked(client):
    for _ in range(3):
        client.get("/healthz")
        call_command("db_worker", "--batch", "--no-startup-delay", verbosity=0)
    client.get("/healthz")
    beats = DBTaskResult.objects.filter(task_path=HEARTBEAT_PATH)
    assert beats.exclude(finished_at=None).count() == 1 and beats.filter(finished_at=None).count() == 1
