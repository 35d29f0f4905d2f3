"""Backups of the whole database, taken while Dealgate runs, and their restore.

SQLite: sqlite3's online backup API copies the database page by page from the running
connection, so the copy is one consistent snapshot even while the web server writes (WAL mode).
PostgreSQL: `pg_dump -Fc` (one consistent snapshot too) and `pg_restore --clean` in a single
transaction, with the PostgreSQL client tools found on PATH. Used by `dealgate backup` and
`dealgate restore`; why this way: docs/decisions/021-production-server.md.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import sqlite3
import subprocess
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import connection

from dealgate.errors import ValidationFailed

SQLITE_HEADER = b"SQLite format 3\x00"
PG_CUSTOM_HEADER = b"PGDMP"


def default_backup_path(vendor: str) -> Path:
    """DATA_DIR/backups/dealgate-<UTC time>.<sqlite3|dump>."""
    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%d-%H%M%S")
    suffix = "sqlite3" if vendor == "sqlite" else "dump"
    return Path(settings.DATA_DIR) / "backups" / f"dealgate-{stamp}.{suffix}"


def backup_database(out: Path | None = None) -> Path:
    """Write a consistent copy of the configured database to `out` (or a new file in DATA_DIR/backups)."""
    out = Path(out) if out else default_backup_path(connection.vendor)
    if out.exists() and out.is_dir():
        raise ValidationFailed.for_field("out", f"{out} is a folder; give a file name for the backup.")
    out.parent.mkdir(parents=True, exist_ok=True)
    if connection.vendor == "sqlite":
        backup_sqlite(out)
    elif connection.vendor == "postgresql":
        run_client("pg_dump", "--format=custom", "--no-owner", "--file", str(out), settings_dict=connection.settings_dict)
    else:
        raise ValidationFailed(f"Backups support SQLite and PostgreSQL, not {connection.vendor}.")
    return out


def backup_sqlite(out: Path) -> None:
    """Copy through the running connection (works for any SQLite file, and in-memory databases too)."""
    partial = out.with_name(out.name + ".partial")
    partial.unlink(missing_ok=True)
    connection.ensure_connection()
    target = sqlite3.connect(partial)
    try:
        connection.connection.backup(target)
    finally:
        target.close()
    partial.replace(out)  # a crash mid-copy never leaves a file that looks like a finished backup


def restore_database(path: Path, settings_dict: dict[str, Any] | None = None) -> None:
    """Replace every table of the database (the configured one unless `settings_dict`) with the backup's."""
    path = Path(path)
    kind = backup_kind(path)
    vendor = "postgresql" if "postgresql" in (settings_dict or connection.settings_dict)["ENGINE"] else "sqlite"
    if kind != vendor:
        raise ValidationFailed.for_field(
            "file", f"{path} is a {label(kind)} backup, but this Dealgate uses {label(vendor)}; "
                    f"restore it where it was taken (DATABASE_URL decides which database is used).")
    if vendor == "sqlite":
        restore_sqlite(path)
    else:
        run_client("pg_restore", "--clean", "--if-exists", "--no-owner", "--single-transaction",
                   "--exit-on-error", str(path), settings_dict=settings_dict or connection.settings_dict,
                   database_flag="--dbname")


def restore_sqlite(path: Path) -> None:
    connection.ensure_connection()
    source = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        source.backup(connection.connection)
    finally:
        source.close()


def backup_kind(path: Path) -> str:
    """'sqlite' or 'postgresql', read from the file's first bytes; a clear refusal for anything else."""
    if not path.is_file():
        raise ValidationFailed.for_field("file", f"No backup file at {path}.")
    with open(path, "rb") as handle:
        head = handle.read(len(SQLITE_HEADER))
    if head.startswith(SQLITE_HEADER):
        return "sqlite"
    if head.startswith(PG_CUSTOM_HEADER):
        return "postgresql"
    raise ValidationFailed.for_field(
        "file", f"{path} is not a Dealgate backup (neither a SQLite database nor a pg_dump custom-format file).")


def label(vendor: str) -> str:
    return {"sqlite": "SQLite", "postgresql": "PostgreSQL"}.get(vendor, vendor)


def run_client(program: str, *args: str, settings_dict: dict[str, Any], database_flag: str = "--dbname") -> None:
    """Run pg_dump or pg_restore found on PATH against the database in `settings_dict`."""
    binary = shutil.which(program)
    if binary is None:
        raise ValidationFailed(f"{program} is not installed or not on PATH; install the PostgreSQL client tools "
                               f"(Debian: apt-get install postgresql-client) matching the server's version.")
    command = [binary, *args, f"{database_flag}={settings_dict['NAME']}"]
    if settings_dict.get("HOST"):
        command += ["--host", str(settings_dict["HOST"])]
    if settings_dict.get("PORT"):
        command += ["--port", str(settings_dict["PORT"])]
    if settings_dict.get("USER"):
        command += ["--username", str(settings_dict["USER"])]
    env = dict(os.environ, PGPASSWORD=str(settings_dict.get("PASSWORD") or ""))
    done = subprocess.run(command, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        reason = (done.stderr.strip().splitlines() or ["no message"])[-1]
        raise ValidationFailed(f"{program} failed: {reason}")

