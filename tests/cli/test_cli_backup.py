"""`dealgate backup` and `dealgate restore` round-trip the whole database: every table comes back
with the same rows (count and a checksum of the rows in a stable order), on SQLite and PostgreSQL."""

from __future__ import annotations

import hashlib
import io

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from dealgate.deals import services as deal_services
from dealgate.deals.models import Deal

pytestmark = pytest.mark.django_db(transaction=True)  # pg_dump and sqlite3's backup read committed data


def table_fingerprints(conn=connection) -> dict[str, tuple[int, str]]:
    """Every table's row count and a digest of its rows ordered by all their columns."""
    result = {}
    with conn.cursor() as cursor:
        for table in sorted(conn.introspection.table_names(cursor)):
            quoted = conn.ops.quote_name(table)
            cursor.execute(f"SELECT * FROM {quoted} LIMIT 0")
            order = ", ".join(str(position) for position in range(1, len(cursor.description) + 1))
            cursor.execute(f"SELECT * FROM {quoted} ORDER BY {order}")
            rows = cursor.fetchall()
            result[table] = (len(rows), hashlib.sha256(repr(rows).encode()).hexdigest())
    return result


def run(*args: str) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


@pytest.fixture
def some_deals(make_deal, world, settings, tmp_path):
    settings.DATA_DIR = tmp_path / "data"
    deals = [make_deal(owner=world.alice, title=f"Deal {n}", amount=1000 * n) for n in range(1, 4)]
    deal_services.log_activity(by=world.alice, kind="call", subject="Intro call", deal=deals[0])
    return deals


def test_it_restores_every_table_as_it_was_at_the_backup(some_deals, world, tmp_path):
    before = table_fingerprints()
    assert before["deals_deal"][0] == 3 and before["auth_user"][0] == 4
    backup = tmp_path / "nightly.backup"
    assert str(backup) in run("backup", "--out", str(backup))

    Deal.objects.filter(pk=some_deals[0].pk).update(title="Renamed after the backup")
    deal_services.create_account(by=world.alice, name="Made after the backup")
    assert table_fingerprints() != before

    said = run("restore", str(backup))
    assert "saved first to" in said and "Restored the database" in said
    assert table_fingerprints() == before
    safety = list((tmp_path / "data" / "backups").iterdir())
    assert len(safety) == 1  # the state just before the restore, kept in case the restore was a mistake


def test_it_refuses_a_file_that_is_not_a_backup_and_changes_nothing(some_deals, tmp_path):
    before = table_fingerprints()
    notes = tmp_path / "notes.txt"
    notes.write_text("not a database")
    with pytest.raises(CommandError, match="not a Dealgate backup"):
        run("restore", str(notes))
    with pytest.raises(CommandError, match="No backup file at"):
        run("restore", str(tmp_path / "missing.sqlite3"))
    assert table_fingerprints() == before
    assert not (tmp_path / "data" / "backups").exists()


@pytest.mark.skipif("connection.vendor != 'postgresql'", reason="pg_dump/pg_restore into a scratch database")
def test_it_restores_a_postgresql_backup_into_a_scratch_database(some_deals, tmp_path):
    from django.db.backends.postgresql.base import DatabaseWrapper

    from dealgate.backups import restore_database

    backup = tmp_path / "pg.dump"
    run("backup", "--out", str(backup))
    scratch_name = f"{connection.settings_dict['NAME']}_restore"
    with connection.cursor() as cursor:
        cursor.execute(f'DROP DATABASE IF EXISTS "{scratch_name}"')
        cursor.execute(f'CREATE DATABASE "{scratch_name}"')
    scratch = DatabaseWrapper({**connection.settings_dict, "NAME": scratch_name}, alias="scratch")
    try:
        restore_database(backup, {**connection.settings_dict, "NAME": scratch_name})
        assert table_fingerprints(scratch) == table_fingerprints()
    finally:
        scratch.close()
        with connection.cursor() as cursor:
            cursor.execute(f'DROP DATABASE IF EXISTS "{scratch_name}"')
