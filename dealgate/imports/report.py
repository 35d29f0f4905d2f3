"""What an import found and did: counts, every bad row with its column and value, warnings."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from dealgate.words import plural


@dataclass
class RowError:
    row: int
    column: str
    value: str
    message: str

    def as_dict(self) -> dict[str, Any]:
        return {"row": self.row, "column": self.column, "value": self.value, "message": self.message}

    def __str__(self) -> str:
        value = self.value if len(self.value) <= 60 else self.value[:57] + "..."
        return f"row {self.row}, column {self.column!r}, value {value!r}: {self.message}"


@dataclass
class ImportReport:
    kind: str
    dry_run: bool = False
    skip_bad_rows: bool = False
    can_skip_bad_rows: bool = True  # order and quote imports are all or nothing
    rows: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    accounts_created: int = 0
    history_rows: int = 0
    users_created: list[str] = field(default_factory=list)
    users_to_create: list[str] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    changes: list[str] = field(default_factory=list)
    # New deals by where their created date came from: {"created date": 480, "closed date": 20}.
    created_dates: dict[str, int] = field(default_factory=dict)
    facts: list[str] = field(default_factory=list)  # more notes, e.g. that a file carries no stage path
    written: bool = False
    seconds: float = 0.0
    run_rules: bool = False  # the rows' events run the automation rules (docs/decisions/016)
    rule_events: int = 0  # events written: queued for the rules (run_rules) or held from them

    @property
    def bad_rows(self) -> list[int]:
        return sorted({e.row for e in self.errors})

    @property
    def blocked(self) -> bool:
        """Bad rows and no permission to skip them: nothing was (or would be) written."""
        return bool(self.errors) and not self.skip_bad_rows

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind, "dry_run": self.dry_run, "written": self.written, "blocked": self.blocked,
            "rows": self.rows, "created": self.created, "updated": self.updated, "unchanged": self.unchanged,
            "skipped": len(self.bad_rows) if self.skip_bad_rows else 0, "bad_rows": len(self.bad_rows),
            "accounts_created": self.accounts_created, "history_rows": self.history_rows,
            "users_created": self.users_created, "users_to_create": self.users_to_create, "errors": [e.as_dict() for e in self.errors],
            "warnings": self.warnings, "changes": self.changes, "created_dates": self.created_dates,
            "notes": self.notes, "seconds": round(self.seconds, 3),
            "run_rules": self.run_rules, "rule_events": self.rule_events, "rules": self.rules_line(),
        }

    def summary(self) -> str:
        verb = "would be" if self.dry_run or self.blocked else "were"
        if self.blocked:
            are = "is" if len(self.bad_rows) == 1 else "are"
            head = (f"Nothing was imported: {len(self.bad_rows):,} of {plural(self.rows, 'row')} {are} bad. Fix them"
                    + (", or skip bad rows (--skip-bad-rows) to import the good ones." if self.can_skip_bad_rows
                       else " and import the file again."))
        else:
            head = f"{'Dry run: nothing written. ' if self.dry_run else ''}{plural(self.rows, 'row')} read."
        counts = (f"{self.kind}: {self.created:,} {verb} created, {self.updated:,} updated, {self.unchanged:,} unchanged"
                  + (f", {plural(len(self.bad_rows), 'bad row')} skipped" if self.skip_bad_rows and self.errors else "")
                  + (f"; {plural(self.accounts_created, 'account')} created" if self.accounts_created else "")
                  + (f"; {plural(self.history_rows, 'history row')} (imported)" if self.history_rows else "")
                  + (f"; users created: {', '.join(self.users_created)}" if self.users_created else "")
                  + (f"; new sales reps: {', '.join(self.users_to_create)}"
                     if self.users_to_create and not self.users_created else ""))
        rules = self.rules_line()
        return f"{head}\n{counts}." + (f"\n{rules}" if rules else "")

    def rules_line(self) -> str:
        """What the automation rules do with the rows (docs/decisions/016), in a sales team's words."""
        if self.blocked or self.kind != "deals" or not (self.created or self.updated):
            return ""
        if self.run_rules:
            if self.dry_run:
                return "Rules: would run for these rows, as if the deals were entered in the app."
            return (f"Rules: {plural(self.rule_events, 'change')} (new deals, stage changes, new owners) "
                    "sent to the automation rules; the worker runs them next.")
        return ("Rules: not run for these rows, so nobody is notified about imported deals or owners; "
                "choose Run automation rules (--run-rules) to run them. Stale-deal and close-date rules "
                "include the imported open deals from the worker's next check.")

    def dating(self) -> str:
        """A line for new deals whose file gave no created date, saying which date stood in."""
        stand_ins = {why: n for why, n in self.created_dates.items() if why != "created date"}
        if not stand_ins:
            return ""
        parts = ", ".join(f"{n:,} dated by {why}" for why, n in sorted(stand_ins.items(), key=lambda kv: -kv[1]))
        return f"No created date in the file for {plural(sum(stand_ins.values()), 'new deal')}: {parts}."

    @property
    def notes(self) -> list[str]:
        """What the figures built on this import should be read with (dates that stood in, no stage path)."""
        return [line for line in (self.dating(), *self.facts) if line]

    def as_text(self, max_errors: int = 50) -> str:
        lines = [self.summary()]
        if self.errors:
            lines.append(f"Problems ({len(self.errors):,} in {plural(len(self.bad_rows), 'row')}; the header is row 1):")
            lines.extend(f"  {e}" for e in self.errors[:max_errors])
            if len(self.errors) > max_errors:
                lines.append(f"  ... and {len(self.errors) - max_errors:,} more (use --json for all of them)")
        lines.extend(self.notes)
        if self.warnings:
            lines.append("Warnings:")
            lines.extend(f"  {w}" for w in self.warnings)
        if self.changes and (self.dry_run or self.blocked):
            lines.append("Changes to existing records:")
            lines.extend(f"  {c}" for c in self.changes)
        return "\n".join(lines)
