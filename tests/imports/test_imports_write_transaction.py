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
from django.db.models.signals import post_save
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
    """Account A-1 is new when the rows are read. Writing starts with the new rep Nina New; right then
    another writer (a post_save receiver: a real insert on the same database, no mock) creates account
    A-1, so the import's own insert of A-1 breaks the unique external id after the new rep was written.
    (One id with two names in one file used to be the way to get here; that is now a row error.)"""
    users_before = get_user_model().objects.count()

    def someone_else_writes_a1(sender, instance, created, **kwargs):
        if created and instance.username == "nina.new":
            Account.objects.create(name="Theirs", external_id="A-1", owner=world.carol)

    post_save.connect(someone_else_writes_a1, sender=get_user_model(), dispatch_uid="import-collision-test")
    rows = ("D-1,Roll-out,Acme,A-1,Nina New,qualify,1000,2026-01-10\n"
            "D-2,Pilot,Acme,A-1,alice,qualify,500,2026-01-11\n")
    try:
        with pytest.raises(Conflict, match="nothing was imported"):
            import_file("deals", csv_file(HEADER + rows), MAPPING, create_users=True)
    finally:
        post_save.disconnect(sender=get_user_model(), dispatch_uid="import-collision-test")
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
