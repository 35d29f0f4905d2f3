"""The `dealgate` console command: Dealgate's management commands under one name."""

from __future__ import annotations

import os
import sys

SUMMARY = """\
usage: dealgate <command> [options]

Everyday commands (each has --help):
  serve [--dev]             migrate, load demo data into an empty database, serve on 127.0.0.1:8000
                            (production server and worker; --dev: Django's development server)
  init --template NAME      create a pipeline from a template (b2b-7, b2b-9, distributor-5)
  demo --deals N --seed S   generate a believable demo company
  deals list [--json]       list deals as a table (50 rows unless --limit N or --all)
  deal show ID [--json]     one deal: stage path, next step, criteria, flags, history
  move ID STAGE             move a deal through its gates (exit 1 and the unmet criteria if refused)
  stages list|add|remove|retire|restore|reorder PIPELINE ...   a pipeline's stages, as in Settings
  import deals FILE --mapping M [--dry-run]   import from CSV (hubspot, pipedrive, salesforce, generic)
  import orders|quotes FILE --mapping generic [--create-accounts]   ERP order lines and quotes
  signals scan [--as-of D]  signals list [--json]    accounts risk [--as-of D] [--json]
  export deals|accounts|contacts|activities|history [--out FILE]
  report metrics|funnel|waterfall|bottlenecks --period P [--as-of D]
  forecast --period P [--method ...]    backtest --from 2025-01 --to 2025-12
  rates set --currency USD --rate 0.92 --date 2026-11-01 | rates list [--json]   exchange rates (admins)
  worker [--batch]          run background jobs: automation rules, emails (--batch: all due, then exit)
  tasks list [--deal ID] [--owner USER] [--json]   open tasks, overdue first
  rules list | rules test RULE   automation rules; which current deals a rule would act on
  spans --rebuild           rebuild what analytics reads from the stage history
  check                     validate every pipeline (stage order, criterion configs) and the settings

All Django management commands (migrate, createsuperuser, ...) work too: `dealgate help --all`.
A new data directory is set up by the first command; errors are one line (details in DATA_DIR/logs/).
"""


def main(argv: list[str] | None = None) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dealgate.settings")
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in ("-h", "--help"):
        sys.stdout.write(SUMMARY)
        return
    if args[:2] == ["help", "--all"]:
        args = ["help"]
    sys.exit(run_quietly(["dealgate", *args]))


def run_quietly(argv: list[str]) -> int:
    """Run a command; anything unexpected (bad settings, Django's own commands) is one line and a log entry."""
    from django.core.management import execute_from_command_line

    try:
        execute_from_command_line(argv)
    except KeyboardInterrupt:
        sys.stderr.write("Interrupted.\n")
        return 130
    except BrokenPipeError:  # `dealgate export deals | head`: the reader left; not an error
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except Exception as exc:
        from dealgate.cli_support import report_crash

        sys.stderr.write(report_crash(exc, argv) + "\n")
        return 1
    return 0


if __name__ == "__main__":
    main()
