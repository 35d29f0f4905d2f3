"""The write phase of an import is one transaction: when it fails half-way, nothing stays.

The read phase checks every row against the database, so a failure in the write phase is rare;
these tests make real ones happen (no mock of the database) after something was already written
(a new user, new accounts) and check that it went away with the rest.
"""

from __future__ import annotations

import threading
import time

import pytest
from django.contrib.auth import get_user_model
from django.db import connection, transaction
from django.utils import timezone

from dealgate.deals.models import Account, Deal, StageHistory
from dealgate.errors import Conflict
from dealgate.imports.services import import_file

HEADER = "id,name,company,company_id,owner,stage,amount,created\n"
MAPPING = {
    "external_id": "id",
    "columns": {"name": "title", "company": "account", "company_id": "account_external_id", "owner": "owner",
                "stage": "stage", "amount": "amount", "created": "created_at"},
    "pipeline": "test",
    "date_formats": ["%Y-%m-%d"],
}


def _nothing_written(users_before: int) -> None:
    assert get_user_model().objects.count() == users_before
    assert (Account.objects.count(), Deal.objects.count(), StageHistory.objects.count()) == (0, 0, 0)


@pytest.mark.django_db(transaction=True)
def test_a_unique_key_collision_in_the_write_phase_leaves_nothing_imported(world, pipeline, csv_file):
    """Two rows name account A-1 under two spellings: each is planned as a new account, and the
    second insert breaks the unique external id after the new rep and the first account were written."""
    users_before = get_user_model().objects.count()
    rows = ("D-1,Roll-out,Acme,A-1,Nina New,qualify,1000,2026-01-10\n"
            "D-2,Pilot,ACME Corp,A-1,alice,qualify,500,2026-01-11\n")
    with pytest.raises(Conflict, match="nothing was imported"):
        import_file("deals", csv_file(HEADER + rows), MAPPING, create_users=True)
    _nothing_written(users_before)


@pytest.mark.postgres_only
@pytest.mark.skipif(connection.vendor != "postgresql", reason="SQLite has one writer: no one writes during an import")
@pytest.mark.django_db(transaction=True)
def test_a_deal_written_by_someone_else_during_the_import_leaves_nothing_imported(world, pipeline, csv_file):
    """A real concurrent writer: another connection inserts deal D-2 and commits only after the import
    has read the file (D-2 looked new) and is waiting to write it; the import then hits the unique id."""
    users_before = get_user_model().objects.count()
    inserted = threading.Event()

    def someone_else():  # a thread has its own database connection
        try:
            with transaction.atomic():
                theirs = Account.objects.create(name="Theirs", owner=world.carol)
                Deal.objects.create(title="Theirs", account=theirs, owner=world.carol, team=world.west,
                                    pipeline=pipeline, stage=pipeline.stages.get(key="qualify"), external_id="D-2",
                                    created_at=timezone.now(), stage_entered_at=timezone.now())
                inserted.set()
                time.sleep(2)  # the import reads in milliseconds, then waits on D-2's index entry
        finally:
            connection.close()

    writer = threading.Thread(target=someone_else)
    writer.start()
    assert inserted.wait(30)
    rows = ("D-1,Roll-out,Acme,A-1,Nina New,qualify,1000,2026-01-10\n"
            "D-2,Pilot,Beta,B-1,alice,qualify,500,2026-01-11\n")
    try:
        with pytest.raises(Conflict, match="nothing was imported"):
            import_file("deals", csv_file(HEADER + rows), MAPPING, create_users=True)
    finally:
        writer.join()
    assert get_user_model().objects.count() == users_before
    assert list(Deal.objects.values_list("title", flat=True)) == ["Theirs"]
    assert list(Account.objects.values_list("name", flat=True)) == ["Theirs"]
