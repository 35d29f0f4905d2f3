from pathlib import Path

from dealgate.backups import backup_database
from dealgate.cli_support import DealgateCommand


class Command(DealgateCommand):
    help = (
        "Back the whole database up while Dealgate runs: a consistent SQLite copy, or a pg_dump "
        "custom-format file on PostgreSQL. Restore it with `dealgate restore FILE`."
    )

    def add_arguments(self, parser):
        parser.add_argument("--out", type=Path, default=None,
                            help="the backup file (default DEALGATE_DATA_DIR/backups/dealgate-<UTC time>.sqlite3 or .dump)")

    def handle(self, *args, out, **options):
        path = backup_database(out)
        self.stdout.write(f"Backed up to {path} ({path.stat().st_size:,} bytes).")
