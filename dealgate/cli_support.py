"""Shared plumbing for Dealgate's management commands: the base command, the acting user, errors, tables."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
import tempfile
import traceback
from decimal import Decimal
from pathlib import Path
from typing import Any, Iterable, Sequence

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, handle_default_options

from dealgate.errors import DealgateError
from dealgate.words import plural

__all__ = ["plural"]  # re-exported: commands count things in the same words

# Django's own options (--settings, --pythonpath, --traceback, ...) still work but are not Dealgate's
# interface, so the help of Dealgate's commands leaves them out.
DJANGO_BASE_ARGUMENTS = {"--version", "--verbosity", "--settings", "--pythonpath", "--traceback", "--no-color",
                         "--force-color", "--skip-checks"}
CRASH_LOG_NAME = "dealgate-cli.log"


class DealgateCommand(BaseCommand):
    """Base of every Dealgate command: sets an empty database up first, and never shows a traceback.

    From the console, a database with unapplied migrations is migrated (one line on stderr says so),
    a refusal prints its message and exits 1, and an unexpected error prints one line naming the log
    that holds the traceback. Called from code (`call_command`), errors propagate as usual.
    """

    suppressed_base_arguments = DJANGO_BASE_ARGUMENTS

    def create_parser(self, prog_name: str, subcommand: str, **kwargs: Any) -> Any:
        parser = super().create_parser(prog_name, subcommand, **kwargs)
        for action in parser._actions:  # Django adds --skip-checks without asking suppressed_base_arguments
            if set(action.option_strings) & DJANGO_BASE_ARGUMENTS:
                action.help = argparse.SUPPRESS
        return parser

    def run_from_argv(self, argv: list[str]) -> None:
        self._called_from_command_line = True
        parser = self.create_parser(argv[0], argv[1])
        parsed = parser.parse_args(argv[2:])
        handle_default_options(parsed)  # --settings and --pythonpath still work, unadvertised
        options = vars(parsed)
        args = options.pop("args", ())
        try:
            ensure_database(self.stderr)
            self.execute(*args, **options)
        except CommandError as exc:
            if options.get("traceback"):
                raise
            if str(exc):  # an empty CommandError: the command already said why on stdout
                self.stderr.write(str(exc))
            sys.exit(exc.returncode)
        except DealgateError as exc:
            self.stderr.write(str(fail(exc)))
            sys.exit(1)
        except (KeyboardInterrupt, SystemExit, BrokenPipeError):
            raise
        except Exception as exc:  # the promise: one line and a log, never a traceback (unless --traceback)
            if options.get("traceback"):
                raise
            self.stderr.write(report_crash(exc, argv))
            sys.exit(1)
        finally:
            from django.db import connections

            connections.close_all()

    def execute(self, *args: Any, **options: Any) -> Any:
        from dealgate.audit.context import Surface, acting_from

        try:
            with acting_from(Surface.CLI):  # what a command changes is recorded as coming from the CLI
                return super().execute(*args, **options)
        except DealgateError as exc:
            raise fail(exc) from None


def pending_migrations() -> int:
    """How many migrations the default database still lacks (all of them on a new data directory)."""
    from django.db import DEFAULT_DB_ALIAS, connections
    from django.db.migrations.executor import MigrationExecutor
    from django.db.migrations.recorder import MigrationRecorder

    connection = connections[DEFAULT_DB_ALIAS]
    recorder = MigrationRecorder(connection)
    if recorder.has_table() and migration_files() <= set(recorder.applied_migrations()):
        return 0  # the usual case, answered without importing every migration (which costs ~0.2 s)
    executor = MigrationExecutor(connection)
    return len(executor.migration_plan(executor.loader.graph.leaf_nodes()))


def migration_files() -> set[tuple[str, str]]:
    """(app label, migration name) of every migration file on disk, found by listing folders."""
    import importlib.util

    from django.apps import apps
    from django.db.migrations.loader import MigrationLoader

    found = set()
    for config in apps.get_app_configs():
        module_name, _ = MigrationLoader.migrations_module(config.label)
        spec = importlib.util.find_spec(module_name) if module_name else None
        for folder in (spec.submodule_search_locations or []) if spec else []:
            found.update((config.label, name[:-3]) for name in os.listdir(folder)
                         if name.endswith(".py") and not name.startswith(("_", "~")))
    return found


def ensure_database(stderr: Any) -> None:
    """Apply missing migrations, saying so in one line, so every command works on a new data directory."""
    missing = pending_migrations()
    if not missing:
        return
    from django.core.management import call_command

    stderr.write(f"Setting up the database ({plural(missing, 'migration')} to apply, as `dealgate migrate` would)...")
    call_command("migrate", interactive=False, verbosity=0)


def crash_log_path() -> Path:
    """DATA_DIR/logs/dealgate-cli.log, or the temporary folder when the data folder is not writable."""
    try:
        from django.conf import settings

        folder = Path(settings.DATA_DIR) / "logs"
        folder.mkdir(parents=True, exist_ok=True)
        if os.access(folder, os.W_OK):
            return folder / CRASH_LOG_NAME
    except Exception:  # settings themselves may be what failed
        pass
    return Path(tempfile.gettempdir()) / CRASH_LOG_NAME


def report_crash(exc: BaseException, argv: Sequence[str]) -> str:
    """Append the traceback to the crash log; return the one line the user sees."""
    from django.core.exceptions import ImproperlyConfigured

    if isinstance(exc, ImproperlyConfigured):
        summary = f"Configuration error: {first_line(exc)}"
    else:
        summary = database_hint(exc) or f"Unexpected error: {type(exc).__name__}: {first_line(exc)}"
    try:
        path = crash_log_path()
        with open(path, "a", encoding="utf-8") as log:
            log.write(f"--- {dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M:%S} UTC: {' '.join(argv)}\n")
            log.write("".join(traceback.format_exception(exc)))
        return f"{summary} (full traceback in {path})"
    except OSError:
        return summary


def database_hint(exc: BaseException) -> str:
    """The one command to run when an error says the database lacks tables."""
    from django.db import DatabaseError

    text = first_line(exc)
    if not isinstance(exc, DatabaseError):
        return ""
    if "no such table" in text or ("relation" in text and "does not exist" in text):
        return f"The database is not set up ({text}): run `dealgate migrate`."
    if "connect" in text.lower() or "unable to open" in text:
        return f"Cannot reach the database ({text}): check DATABASE_URL or DEALGATE_DATA_DIR."
    return ""


def first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:300] if text else "(no message)"


def add_user_argument(parser: Any) -> None:
    parser.add_argument(
        "--user", default=os.environ.get("DEALGATE_USER", ""),
        help="act as this username (default: $DEALGATE_USER; without it, the system acts and cannot override)",
    )


def acting_user(username: str) -> Any:
    if not username:
        return None
    try:
        return get_user_model().objects.select_related("profile").get(username=username)
    except get_user_model().DoesNotExist:
        raise CommandError(f"No user {username!r}.") from None


def known_pipeline(key: str) -> Any:
    """The pipeline with this key, or a refusal naming the keys there are."""
    from dealgate.pipelines.models import Pipeline

    found = Pipeline.objects.filter(key=key).first()
    if found is None:
        keys = ", ".join(Pipeline.objects.order_by("key").values_list("key", flat=True)) or "none yet"
        raise CommandError(f"No pipeline {key!r} (pipelines: {keys}).")
    return found


def known_stage_key(key: str, pipeline_key: str | None = None) -> str:
    """`key` when some stage (of that pipeline, if given) has it; otherwise a refusal naming the keys there are."""
    from dealgate.pipelines.models import Stage

    stages = Stage.objects.filter(pipeline__key=pipeline_key) if pipeline_key else Stage.objects.all()
    if not stages.filter(key=key).exists():
        keys = ", ".join(dict.fromkeys(stages.order_by("pipeline_id", "position").values_list("key", flat=True)))
        raise CommandError(f"No stage {key!r} (stages: {keys or 'none yet'}).")
    return key


def days_in_stage(deal: Any) -> int | None:
    """Whole days in the current stage of an open deal; None for a closed one (its clock stopped at the close)."""
    from django.utils import timezone

    if deal.closed_at is not None:
        return None
    return (timezone.now() - deal.stage_entered_at).days


def fail(error: DealgateError) -> CommandError:
    """A CommandError (exit code 1) whose text is the error's message and its details."""
    lines = [error.message]
    unmet = error.details.get("unmet") if isinstance(error.details, dict) else None
    if unmet:
        for item in unmet:
            where = f"[{item.get('stage', '')} {item.get('phase', '')}]".replace(" ]", "]")
            lines.append(f"  - {item['label']} ({item['kind']}) {where}: {item['missing']}")
    elif isinstance(error.details, dict):
        for field, messages in error.details.items():
            if isinstance(messages, list) and not said_in(error.message, field):
                # Only sentences: structured details (e.g. the deals a retirement could not move) are for API clients.
                lines.extend(f"  - {field}: {m}" for m in messages if isinstance(m, str))
    return CommandError("\n".join(lines))


def said_in(message: str, field: str) -> bool:
    """Whether a refusal's headline already names the field its details are about (then they are not repeated)."""
    text = message.lower()
    return field.lower() in text or field.replace("_", " ").lower() in text


def money(amount: Decimal | None, currency: str) -> str:
    if amount is None:
        return "—"
    return f"{amount:,.0f} {currency}"


def table(headers: Sequence[str], rows: Iterable[Sequence[Any]], right: Sequence[int] = ()) -> str:
    """A plain text table; columns listed in `right` are right-aligned (numbers)."""
    rows = [["" if v is None else str(v) for v in row] for row in rows]
    widths = [len(h) for h in headers]
    for row in rows:
        widths = [max(w, len(v)) for w, v in zip(widths, row)]

    def line(values: Sequence[str]) -> str:
        cells = [v.rjust(w) if i in right else v.ljust(w) for i, (v, w) in enumerate(zip(values, widths))]
        return "  ".join(cells).rstrip()

    out = [line(headers), line(["-" * w for w in widths])]
    out.extend(line(row) for row in rows)
    return "\n".join(out)


def dumps(data: Any) -> str:
    return json.dumps(data, indent=2, default=str)
