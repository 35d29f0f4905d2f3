import json

from django.core.management.base import CommandError

from dealgate.cli_support import DealgateCommand, acting_user, add_user_argument, fail
from dealgate.errors import DealgateError
from dealgate.imports.mappings import KINDS, ready_mapping_names
from dealgate.imports.services import import_file
from dealgate.signals.importing import IMPORTERS as ERP_IMPORTERS  # ERP history, kept by dealgate.signals


class Command(DealgateCommand):
    help = (
        "Import deals, accounts, contacts or activities from a CSV file with a mapping (a JSON file, or a ready "
        "mapping by name: " + ", ".join(ready_mapping_names()) + "). Every row is checked first: if any row is "
        "bad, nothing is written, the problems are listed (row as numbered in the file, header = row 1) and the "
        "exit code is 1. Re-importing a file updates records by external id instead of duplicating them. Orders "
        "and quotes (ERP history, --mapping generic) skip lines already imported."
    )

    def add_arguments(self, parser):
        parser.add_argument("kind", choices=(*KINDS, *ERP_IMPORTERS), help="what each row of the file is")
        parser.add_argument("file", help="the CSV file (comma, semicolon or tab separated)")
        parser.add_argument("--mapping", required=True, help="mapping JSON file, or a ready mapping name")
        parser.add_argument("--pipeline", default="", help="pipeline key for deals (overrides the mapping's)")
        parser.add_argument("--dry-run", action="store_true", help="check every row and report; write nothing")
        parser.add_argument("--skip-bad-rows", action="store_true", help="import the good rows, report the bad ones")
        parser.add_argument("--create-users", action="store_true",
                            help="create owners the file names but Dealgate does not know, as sales reps")
        parser.add_argument("--run-rules", action="store_true",
                            help="deals: run the automation rules for the imported rows (new deal, stage entered, "
                                 "won, lost, new owner) as if entered in the app; by default they run none")
        parser.add_argument("--create-accounts", action="store_true",
                            help="orders and quotes: create accounts the file names but Dealgate does not know")
        parser.add_argument("--max-errors", type=int, default=50, help="problems to print (default 50)")
        parser.add_argument("--json", action="store_true", dest="as_json", help="print the full report as JSON")
        add_user_argument(parser)

    def handle(self, *args, kind, file, mapping, pipeline, dry_run, skip_bad_rows, create_users, create_accounts,
               max_errors, as_json, user, run_rules, **options):
        try:
            with open(file, "rb") as handle:
                if kind in ERP_IMPORTERS:
                    report = ERP_IMPORTERS[kind](handle, mapping=mapping, by=acting_user(user),
                                                 create_accounts=create_accounts, dry_run=dry_run)
                else:
                    report = import_file(kind, handle, mapping, by=acting_user(user), dry_run=dry_run,
                                         skip_bad_rows=skip_bad_rows, create_users=create_users,
                                         pipeline=pipeline or None, run_rules=run_rules)
        except FileNotFoundError:
            raise CommandError(f"No file {file!r}.") from None
        except OSError as exc:
            raise CommandError(f"Cannot read {file!r}: {exc.strerror or exc}.") from None
        except DealgateError as exc:
            raise fail(exc) from None
        if as_json:
            self.stdout.write(json.dumps(report.as_dict(), indent=2, default=str))
        else:
            self.stdout.write(report.as_text(max_errors=max_errors))
        if report.blocked:
            raise CommandError()  # exit code 1; the report above already says why, once
