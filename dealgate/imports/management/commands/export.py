from django.core.management.base import CommandError

from dealgate.cli_support import DealgateCommand, plural
from dealgate.imports.exports import EXPORTS, csv_lines


class Command(DealgateCommand):
    help = ("Export deals, accounts, contacts, activities or stage history as CSV (to stdout, or --out FILE). "
            "Rows stream from the database, so any size fits in memory. Deal, account, contact and activity "
            "exports import back with `--mapping generic`.")

    def add_arguments(self, parser):
        parser.add_argument("kind", choices=EXPORTS, help="what to export")
        parser.add_argument("--out", default="", help="file to write (default: standard output)")

    def handle(self, *args, kind, out, **options):
        count = -1
        if out:
            try:
                handle = open(out, "w", encoding="utf-8", newline="")
            except OSError as exc:
                raise CommandError(f"Cannot write {out!r}: {exc.strerror or exc}.") from None
            with handle:
                for count, line in enumerate(csv_lines(kind)):
                    handle.write(line)
            self.stderr.write(f"{plural(count, 'row')} of {kind} written to {out}.")
        else:
            for line in csv_lines(kind):
                self.stdout.write(line, ending="")
