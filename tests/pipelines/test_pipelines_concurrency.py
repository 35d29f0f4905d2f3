"""Two `init` runs racing for the same key, on real concurrent PostgreSQL connections."""

from __future__ import annotations

import threading

import pytest
from django.db import connection

from dealgate.errors import ValidationFailed
from dealgate.pipelines.models import Pipeline, Stage
from dealgate.pipelines.services import create_pipeline_from_template

pytestmark = [
    pytest.mark.postgres_only,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="SQLite cannot hold two concurrent writers"),
]


def test_two_simultaneous_creations_with_one_key_give_one_pipeline_and_one_clear_refusal():
    barrier = threading.Barrier(2)
    outcomes: list = [None, None]

    def create(index: int, template: str) -> None:
        try:
            barrier.wait(timeout=10)
            outcomes[index] = create_pipeline_from_template(template, key="shared")
        except Exception as exc:  # noqa: BLE001 - the test inspects what each thread got
            outcomes[index] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=create, args=(0, "b2b-7")), threading.Thread(target=create, args=(1, "b2b-9"))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    created = [o for o in outcomes if isinstance(o, Pipeline)]
    refused = [o for o in outcomes if isinstance(o, ValidationFailed)]
    assert (len(created), len(refused)) == (1, 1), outcomes
    assert "already exists" in refused[0].message
    winner = Pipeline.objects.get(key="shared")
    assert winner.stages.count() > 0
    assert Stage.objects.count() == winner.stages.count()  # the loser left no half-built stages
