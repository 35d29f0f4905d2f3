from pathlib import Path

from django.core.management import call_command

from dealgate.backups import backup_database, backup_kind, restore_database
from dealgate.cli_support import DealgateCommand


class Command(DealgateCommand):
    help = (
        "Replace the whole database with a backup made by `dealgate backup`. The current database is "
        "backed up first (unless --no-safety-backup). Stop the web server and workers while restoring."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", type=Path, help="a backup file made by `dealgate backup`")
        parser.add_argument("--no-safety-backup", action="store_true",
                            help="do not back the current database up before replacing it")

    def handle(self, *args, file, no_safety_backup, **options):
        backup_kind(file)  # refuse a missing or foreign file before touching anything
        if not no_safety_backup:
            safety = backup_database()
            self.stdout.write(f"The current database was saved first to {safety}.")
        restore_database(file)
        call_command("migrate", interactive=False, verbosity=0)  # a backup from an older Dealgate is brought up to date
        self.stdout.write(f"Restored the database from {file}.")
