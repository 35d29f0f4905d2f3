"""Shared plumbing for Dealgate's management commands: the acting user, errors, tables."""

from __future__ import annotations

import json
import os
from decimal import Decimal
from typing import Any, Iterable, Sequence

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from dealgate.errors import DealgateError


class DealgateCommand(BaseCommand):
    """Base of Dealgate's commands that write: what they change is recorded as coming from the CLI."""

    def execute(self, *args: Any, **options: Any) -> Any:
        from dealgate.audit.context import Surface, acting_from

        with acting_from(Surface.CLI):
            return super().execute(*args, **options)


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
            if isinstance(messages, list):
                lines.extend(f"  - {field}: {m}" for m in messages)
    return CommandError("\n".join(lines))


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
