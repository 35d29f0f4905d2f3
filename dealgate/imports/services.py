"""Importing deals, accounts, contacts and activities from another system's CSV export.

One call, `import_file`, in two phases:

1. *Read*: every row is parsed and checked in Python against the mapping and against what is
   already in the database (fetched in a few set-based queries). Each problem becomes a
   `RowError` naming the row (as numbered in the file), the column, the value and why.
2. *Write*, only if no row is bad (or the caller chose to skip bad rows) and it is not a dry
   run: new rows are written in bulk (`dealgate.deals.bulk`: COPY on PostgreSQL), existing ones
   (matched by external id) are changed through the deal services, all in one transaction.

Imported deals keep their history from the other system: they enter the pipeline's first stage
at their created date and their current stage (or Won/Lost) at the date the file gives. That
history is marked `imported=True` and is not gated; see
docs/decisions/005-imports-write-history-without-gates.md for why.
"""

from __future__ import annotations

import datetime as dt
import re
import time
from dataclasses import dataclass, field
from typing import IO, Any, Callable, Iterable, NamedTuple

from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.db.models import F, Max, OuterRef, Subquery
from django.db.models.functions import Lower
from django.utils import timezone

from dealgate.audit.context import Surface, acting_from
from dealgate.audit.services import entry as audit_entry
from dealgate.audit.services import record, write_entries
from dealgate.automation.events import deal_event, import_events
from dealgate.automation.scans import rescan_in_full
from dealgate.deals.models import (
    Account,
    Activity,
    ActivityKind,
    Contact,
    Deal,
    ForecastCategory,
    MoveKind,
    Source,
    StageHistory,
)
from dealgate.deals.bulk import CHUNK, BulkWriter, chunks, matching
from dealgate.deals.services import reassign_deal, set_next_step, update_deal
from dealgate.errors import Conflict, NotAllowed, ValidationFailed
from dealgate.imports.limits import currency_problem
from dealgate.deals.timeline import write_new_deals
from dealgate.imports.mappings import FIELDS, REQUIRED, WHERE, Mapping, MappingInvalid, load_mapping
from dealgate.imports.parsers import (
    CellError,
    DateParser,
    Table,
    normalize,
    open_table,
    parse_bool,
    parse_int,
    parse_money,
)
from dealgate.csv_safe import undefuse
from dealgate.people.access import can_create_deal_for, can_edit_deal, role_of
from dealgate.people.models import Role
from dealgate.imports.report import ImportReport, RowError
from dealgate.pipelines.criteria import outcome_key
from dealgate.pipelines.models import CustomField, LostReason, Pipeline, Stage, StageKind
from dealgate.words import plural

SAMPLE_CHANGES = 50  # how many "would update" lines a report keeps
NEW = "(new)"  # stands for the id of a user or account the import will create


def import_file(kind: str, source: IO[bytes] | str | bytes, mapping: Mapping | str | dict[str, Any], *,
                by: Any = None, dry_run: bool = False, skip_bad_rows: bool = False, create_users: bool = False,
                pipeline: str | None = None, run_rules: bool = False) -> ImportReport:
    """Import one CSV file of `kind` rows. Returns the report; writes nothing when any row is bad
    (unless `skip_bad_rows`) or when `dry_run`. Raises MappingInvalid for a wrong mapping and
    NotAllowed for a user who may not import (`by=None` is the system, e.g. the CLI).

    `run_rules`: the rows' events (deal created, entered a stage, won, lost, assigned) run the
    automation rules as if typed in the app; by default they run none (docs/decisions/016). The
    worker's scans (idle, close date passed) see imported open deals either way."""
    if isinstance(source, str):
        with open(source, "rb") as handle:
            return import_file(kind, handle, mapping, by=by, dry_run=dry_run, skip_bad_rows=skip_bad_rows,
                               create_users=create_users, pipeline=pipeline, run_rules=run_rules)
    started = time.perf_counter()
    if by is not None and role_of(by) not in (Role.MANAGER, Role.ADMIN):
        raise NotAllowed("Only managers and admins may import data.")
    if create_users and by is not None and role_of(by) != Role.ADMIN:
        # As in the app (people.services.create_user): only an administrator adds users.
        raise NotAllowed("Only an administrator may create users in an import; map the owners to existing users "
                         "under \"owners\", or ask an administrator to add them.")
    # Every row is written as `by` (FieldChange.by, StageHistory.by, activities and accounts it
    # creates), and only where `by` may write in the app (docs/decisions/011). The audit log's
    # surface is "import" for everything this call writes, whichever page or command called it.
    if not isinstance(mapping, Mapping):
        mapping = load_mapping(mapping, kind)
    if pipeline:
        mapping.pipeline = pipeline
    report = ImportReport(kind=kind, dry_run=dry_run, skip_bad_rows=skip_bad_rows, run_rules=run_rules)
    table = open_table(source, delimiter=mapping.delimiter, encoding=mapping.encoding)
    importer = IMPORTERS[kind](mapping, report, create_users=create_users, by=by)
    importer.read(table)
    if not report.blocked and not dry_run:
        try:
            with (transaction.atomic(), acting_from(Surface.IMPORT, actor=by),
                  import_events(run_rules=run_rules) as events):
                importer.write()
                rescan_in_full()  # its rows carry the other system's dates, behind the scans' marks
            report.rule_events = events.queued if run_rules else events.held
        except IntegrityError:
            # Rows were checked against the database just before; someone wrote the same ids since.
            raise Conflict("Records with the same external ids were written while this import ran; nothing "
                           "was imported. Run it again: it will update them.") from None
        report.written = True
    report.seconds = time.perf_counter() - started
    return report


# ---------------------------------------------------------------------------------------------
# Row access


class Row:
    """One record of the file: the text of each mapped field, and the problems found in it."""

    __slots__ = ("number", "values", "sources", "columns", "errors")

    def __init__(self, number: int, cells: list[str], columns: dict[str, list[tuple[int, str]]]):
        self.number = number
        self.columns = columns
        self.values: dict[str, str] = {}
        self.sources: dict[str, str] = {}  # field -> the column its text came from
        self.errors: list[RowError] = []
        width = len(cells)
        for name, sources in columns.items():
            for index, column in sources:
                text = cells[index].strip() if index < width else ""
                if "\x00" in text:
                    # PostgreSQL cannot store the NUL character; say so here, not as a driver traceback.
                    self.errors.append(RowError(number, column, text.replace("\x00", "\u2400"),
                                                "contains a NUL character (shown as \u2400), which cannot be "
                                                "stored; remove it from the file"))
                    text = text.replace("\x00", "")
                if text:
                    self.values[name] = undefuse(text)
                    self.sources[name] = column
                    break

    def get(self, name: str) -> str:
        return self.values.get(name, "")

    def mapped(self, name: str) -> bool:
        return bool(self.columns.get(name))

    def column(self, name: str) -> str:
        """The column a field came from (the first non-empty one), for error messages."""
        if name in self.sources:
            return self.sources[name]
        found = self.columns.get(name, ())
        return found[0][1] if found else f"({name})"

    def error(self, name: str, message: str, value: str | None = None) -> None:
        self.errors.append(RowError(self.number, self.column(name), self.get(name) if value is None else value,
                                    message))

    def parse(self, name: str, parser: Callable[[str], Any]) -> Any:
        text = self.get(name)
        if not text:
            return None
        try:
            return parser(text)
        except CellError as exc:
            self.error(name, str(exc), text)
            return None

    def text(self, name: str, max_length: int, *, required: bool = False, hint: str = "") -> str:
        text = self.get(name)
        if required and not text:
            self.error(name, f"is required{hint}", "")
        elif len(text) > max_length:
            self.error(name, f"is longer than {max_length} characters", text)
            return text[:max_length]
        return text


def _lookup(table: dict[str, str], text: str) -> str | None:
    """A value map lookup: exact first, then ignoring case, spaces and punctuation."""
    if text in table:
        return table[text]
    wanted = normalize(text)
    for key, value in table.items():
        if normalize(key) == wanted:
            return value
    return None


def _choice(text: str, choices: Any, table: dict[str, str], what: str) -> str:
    """Match a cell against a Django choices class by value or label, after the mapping's value map."""
    mapped = _lookup(table, text)
    wanted = normalize(mapped or text)
    for value, label in choices.choices:
        if normalize(value) == wanted or normalize(label) == wanted:
            return value
    raise CellError(f"is not a {what}; use one of {', '.join(choices.values)} or map it in the mapping")


def _sample(report: ImportReport, line: str) -> None:
    if len(report.changes) < SAMPLE_CHANGES:
        report.changes.append(line)


# ---------------------------------------------------------------------------------------------
# People and accounts referenced by rows


class People:
    """Resolves owner cells (username, e-mail, full name, or the mapping's "owners") to users,
    planning new sales reps when the import may create users."""

    NEW = "new"

    def __init__(self, mapping: Mapping, create_users: bool):
        self.mapping = mapping
        self.create_users = create_users
        self.by_key: dict[str, Any] = {}
        for user in get_user_model().objects.select_related("profile"):
            for key in (user.username, user.email, user.get_full_name()):
                if key:
                    self.by_key.setdefault(key.casefold(), user)
        self.planned: dict[str, dict[str, str]] = {}  # username -> fields of the rep to create
        self.cache: dict[str, Any] = {}

    def resolve(self, text: str) -> Any:
        """A user, or ('new', username) for a user to be created; CellError when unknown."""
        if text not in self.cache:
            self.cache[text] = self._resolve(text)
        result = self.cache[text]
        if isinstance(result, CellError):
            raise result
        return result

    def _resolve(self, text: str) -> Any:
        target = _lookup(self.mapping.owners, text)
        user = self.by_key.get((target or text).casefold())
        if user is not None:
            return user
        if not self.create_users:
            if target:
                return CellError(f"the mapping's \"owners\" points it to {target!r}, who is not a user; "
                                 "create that user or use --create-users")
            return CellError("is not a Dealgate user (matched by username, e-mail and full name); map it "
                             "under \"owners\" in the mapping, or use --create-users to add them as sales reps")
        username = target or self._username_for(text)
        if username.casefold() not in self.planned:
            first, _, last = ("" if "@" in text else text).partition(" ")
            self.planned[username.casefold()] = {"username": username, "email": text if "@" in text else "",
                                                 "first_name": first, "last_name": last}
        return (self.NEW, username.casefold())

    def _username_for(self, text: str) -> str:
        base = re.sub(r"[^\w.@+-]+", ".", (text.split("@")[0] if "@" in text else text).strip().lower()).strip(".")
        base = base[:140] or "user"
        candidate, n = base, 1
        while candidate.casefold() in self.by_key or candidate.casefold() in self.planned:
            n += 1
            candidate = f"{base}{n}"
        return candidate

    def create_planned(self, report: ImportReport) -> None:
        from dealgate.people.services import create_user

        for key, spec in self.planned.items():
            user = create_user(role=Role.REP, password=None, **spec)
            self.by_key[key] = user
            report.users_created.append(user.username)

    def user(self, ref: Any) -> Any:
        return self.by_key[ref[1]] if isinstance(ref, tuple) else ref


class Accounts:
    """Accounts referenced by name and/or external id: found in one pass, the missing ones created."""

    def __init__(self) -> None:
        self.wanted_names: set[str] = set()
        self.wanted_ext: set[str] = set()
        self.by_ext: dict[str, int] = {}
        self.by_name: dict[str, int] = {}
        self.new: dict[tuple[str, str], Account] = {}
        self.first_named: dict[str, tuple[str, int]] = {}  # new external id -> (name, row) that first gave it

    def want(self, name: str, ext: str) -> tuple[str, str]:
        if ext:
            self.wanted_ext.add(ext)
        elif name:
            self.wanted_names.add(name)
        return (name, ext)

    def load(self) -> None:
        for found in matching(Account.objects.all(), "external_id", sorted(self.wanted_ext)):
            self.by_ext.update(found.values_list("external_id", "id"))
        for found in matching(Account.objects.all(), "name", sorted(self.wanted_names)):
            for name, pk in found.order_by("-id").values_list("name", "id"):
                self.by_name[name] = pk  # the oldest account of that name wins

    def existing(self, key: tuple[str, str]) -> int | None:
        name, ext = key
        return self.by_ext.get(ext) if ext else self.by_name.get(name)

    def plan(self, key: tuple[str, str], owner_id: int | None, row: int) -> str | None:
        """Plan creating the account `key` names unless it exists. Returns why row `row` cannot have it
        (the file gives one new external id two names: that would be two accounts with one id), or None."""
        if self.existing(key) is not None:
            return None
        name, ext = key
        if ext:
            first_name, first_row = self.first_named.setdefault(ext, (name, row))
            if first_name != name:
                first, this = (f"is named '{text}' on row {at}" if text else f"has no name on row {at}"
                               for text, at in ((first_name, first_row), (name, row)))
                return f"account id {ext} {first} and {this}; one id is one account, so give both rows the same name"
        if key not in self.new:
            self.new[key] = Account(name=name or ext, external_id=ext or None, owner_id=owner_id)
        return None

    def create(self) -> int:
        accounts = list(self.new.values())
        Account.objects.bulk_create(accounts, batch_size=CHUNK)
        write_entries([audit_entry(account, "created", by=None) for account in accounts])
        return len(accounts)

    def id_of(self, key: tuple[str, str]) -> int:
        found = self.existing(key)
        return found if found is not None else self.new[key].pk


# ---------------------------------------------------------------------------------------------
# Importers: one per kind of row


class Importer:
    kind = ""

    def __init__(self, mapping: Mapping, report: ImportReport, *, create_users: bool, by: Any = None):
        self.mapping = mapping
        self.report = report
        self.by = by  # the importing user; None is the system (the CLI without --user)
        self.people = People(mapping, create_users) if self._uses_people() else None
        self.dates = DateParser(mapping.date_formats, mapping.timezone)
        self.plans: list[Any] = []

    def _uses_people(self) -> bool:
        return any(f in ("owner", "by") for f in set(self.mapping.columns.values())) or bool(
            self.mapping.default_owner)

    def read(self, table: Table) -> None:
        index = {column: i for i, column in enumerate(table.header)}
        columns: dict[str, list[tuple[int, str]]] = {}
        missing: dict[str, list[str]] = {}
        for column, target in self.mapping.columns.items():
            if column in index:
                columns.setdefault(target, []).append((index[column], column))
            else:
                missing.setdefault(target, []).append(column)
        self._check_columns(columns, missing, table.header)
        width = len(table.header)
        for number, cells in table.rows:
            self.report.rows += 1
            row = Row(number, cells, columns)
            if len(cells) > width and any(c.strip() for c in cells[width:]):
                row.errors.append(RowError(number, "(row)", "", f"has {len(cells)} cells but the header has {width}"))
            plan = self.read_row(row)
            if row.errors:
                self.report.errors.extend(row.errors)
            elif plan is not None:
                self.plans.append(plan)
        self.resolve()
        # Row by row, and within a row in the file's column order, as a person reads the file.
        self.report.errors.sort(key=lambda e: (e.row, index.get(e.column, len(index))))
        if self.people is not None:
            self.report.users_to_create = [spec["username"] for spec in self.people.planned.values()]

    def _check_columns(self, columns: dict, missing: dict[str, list[str]], header: list[str]) -> None:
        problems, absent = {}, []
        for target, names in missing.items():
            if target in columns:
                continue  # another column feeds the same field
            quoted = ", ".join(repr(n) for n in names)
            if target in REQUIRED[self.kind] or target.startswith(WHERE):
                problems[f"columns[{names[0]!r}]"] = [
                    f"column {quoted} (for {target!r}) is not in the file; the file's columns are: "
                    f"{', '.join(header)}"]
            else:
                absent.append(quoted)
        if absent:
            self.report.warnings.append(f"not in the file, so left as they are: {', '.join(absent)}")
        if problems:
            message = "The file does not have the columns the mapping needs:\n  " + "\n  ".join(
                m for ms in problems.values() for m in ms)
            raise MappingInvalid(message, details=problems)

    def read_row(self, row: Row) -> Any:  # pragma: no cover - each importer defines it
        raise NotImplementedError

    def resolve(self) -> None:
        """After all rows are read: look up existing records in bulk and decide create/update."""

    def write(self) -> None:  # pragma: no cover
        raise NotImplementedError

    def owner_of(self, row: Row, name: str = "owner") -> Any:
        text = row.get(name) or self.mapping.default_owner
        if not text or self.people is None:
            return None
        try:
            return self.people.resolve(text)
        except CellError as exc:
            row.error(name, str(exc), text)
            return None

    DEAL_FIELDS = ("id", "external_id", "account_id", "owner_id", "team_id", "pipeline_id", "created_at",
                   "account__name", "account__external_id")

    def deals_named(self) -> tuple[dict[int, dict[str, Any]], dict[str, dict[str, Any]]]:
        """The deals the plans name (their `deal_pk` and `deal_ext`), by id and by external id."""
        by_id: dict[int, dict[str, Any]] = {}
        for found in matching(Deal.objects.order_by(), "id", sorted({p.deal_pk for p in self.plans if p.deal_pk})):
            by_id.update((values["id"], values) for values in found.values(*self.DEAL_FIELDS))
        by_external: dict[str, dict[str, Any]] = {}
        exts = sorted({p.deal_ext for p in self.plans if p.deal_ext})
        for found in matching(Deal.objects.order_by(), "external_id", exts):
            by_external.update((values["external_id"], values) for values in found.values(*self.DEAL_FIELDS))
        return by_id, by_external

    def deal_of(self, plan: Any, by_id: dict[int, dict], by_external: dict[str, dict]) -> dict | None:
        """The deal a row names: by this installation's id (when its external id and account agree
        with the row's), then by external id; None, with the row refused, when there is none."""
        deal = by_id.get(plan.deal_pk) if plan.deal_pk else None
        if deal is not None and plan.deal_ext and deal["external_id"] and deal["external_id"] != plan.deal_ext:
            deal = None  # another installation's id: the external id decides
        if deal is not None and plan.account is not None and not plan.deal_ext:
            if not _same_account(deal, plan.account):
                self.fail_plan(plan, "deal_id", str(plan.deal_pk),
                               "is a deal of another account in this installation (if the file comes from another "
                               "Dealgate, delete its deal_id column)")
                return None
        if deal is None and plan.deal_ext:
            deal = by_external.get(plan.deal_ext)
        if deal is None:
            named, value = ("deal_external_id", plan.deal_ext) if plan.deal_ext else ("deal_id", str(plan.deal_pk))
            self.fail_plan(plan, named, value, f"no deal has this {'external id' if plan.deal_ext else 'id'}; "
                           "import the deals first")
        return deal

    def fail_plan(self, plan: Any, name: str, value: str, message: str) -> None:
        """A problem found after the row was read (e.g. against an existing record)."""
        column = self.mapping.columns_for(name)
        self.report.errors.append(RowError(plan.row, column[0] if column else f"({name})", value, message))
        plan.bad = True

    def plan_account(self, plan: Any, owner_id: int | None) -> None:
        """Plan the new account the row names, if it is new (the importer's `accounts`)."""
        problem = self.accounts.plan(plan.account, owner_id, plan.row)
        if problem:
            self.fail_plan(plan, "account_external_id", plan.account[1], problem)


# Where a new deal's created date comes from (ImportReport.created_dates).
CREATED, ENTERED, CLOSED = "created date", "the day they entered their stage", "their closed date"


@dataclass(slots=True)
class DealPlan:
    row: int
    pk: int | None  # the file's id column: this installation's id (Dealgate's own exports)
    external_id: str | None
    title: str
    pipeline: Pipeline
    stage: Stage
    account: tuple[str, str]
    owner: Any
    values: dict[str, Any]
    created_at: dt.datetime
    stage_entered_at: dt.datetime
    closed_at: dt.datetime | None
    lost_reason_id: int | None
    lost_note: str
    entered: dt.datetime | None = None  # the file's stage_entered_at, if it gives one
    created_from: str | None = CREATED  # which of the row's dates the created date is (None: none)
    existing: dict[str, Any] | None = None
    changes: dict[str, Any] = field(default_factory=dict)
    bad: bool = False


class Pipelines:
    """Pipelines and stages by key or name, with the mapping's stage and status maps applied."""

    def __init__(self, mapping: Mapping):
        self.mapping = mapping
        self.pipelines = list(Pipeline.objects.all())
        stages = list(Stage.objects.order_by("pipeline_id", "position"))
        self.stages: dict[int, list[Stage]] = {p.pk: [] for p in self.pipelines}
        for stage in stages:
            self.stages[stage.pipeline_id].append(stage)
        self.cache: dict[tuple, Any] = {}
        self.default: Pipeline | None = None
        if mapping.pipeline:
            self.default = self.find(mapping.pipeline)
            if self.default is None:
                keys = ", ".join(p.key for p in self.pipelines) or "none yet"
                raise MappingInvalid(
                    f"pipeline: no pipeline {mapping.pipeline!r} (pipelines: {keys}). Create it (dealgate init "
                    "--template ...) or choose another with --pipeline.",
                    details={"pipeline": [f"no pipeline {mapping.pipeline!r}; pipelines are: {keys}"]})
        elif len(self.pipelines) == 1:
            self.default = self.pipelines[0]

    def find(self, text: str) -> Pipeline | None:
        wanted = normalize(text)
        for pipeline in self.pipelines:
            if normalize(pipeline.key) == wanted or normalize(pipeline.name) == wanted:
                return pipeline
        return None

    def first_open(self, pipeline: Pipeline) -> Stage:
        return next(s for s in self.stages[pipeline.pk] if s.takes_deals)

    def stage_names(self, pipeline: Pipeline) -> str:
        return ", ".join(s.key + (" (retired)" if s.is_retired else "") for s in self.stages[pipeline.pk])

    def _stage(self, pipeline: Pipeline, text: str) -> Stage | None:
        wanted = normalize(text)
        for stage in self.stages[pipeline.pk]:
            if normalize(stage.key) == wanted or normalize(stage.name) == wanted:
                return stage
        return None

    def _closing(self, pipeline: Pipeline, kind: str) -> Stage | None:
        return next((s for s in self.stages[pipeline.pk] if s.kind == kind), None)

    def stage(self, pipeline: Pipeline, stage_text: str, status_text: str) -> tuple[Stage | None, str, str]:
        """(stage, None, None) or (None, field at fault, why), cached per distinct value pair."""
        key = (pipeline.pk, stage_text, status_text)
        if key not in self.cache:
            self.cache[key] = self._resolve_stage(pipeline, stage_text, status_text)
        return self.cache[key]

    def _resolve_stage(self, pipeline: Pipeline, stage_text: str, status_text: str) -> tuple[Stage | None, str, str]:
        status = ""
        if status_text:
            status = _lookup(self.mapping.statuses, status_text) or status_text.casefold()
            if status not in ("open", "won", "lost"):
                return None, "status", "is not open, won or lost; map it under \"statuses\" in the mapping"
        stage = None
        if stage_text:
            target = _lookup(self.mapping.stages, stage_text)
            stage = self._stage(pipeline, target or stage_text)
            if stage is None:
                if target:
                    return None, "stage", (f"the mapping's \"stages\" sends it to {target!r}, which is not a stage "
                                           f"of pipeline {pipeline.key!r}; its stages are: {self.stage_names(pipeline)}")
                return None, "stage", (f"is not a stage of pipeline {pipeline.key!r} and not in the mapping's "
                                       f"\"stages\"; its stages are: {self.stage_names(pipeline)}")
        if stage is not None and stage.kind == StageKind.POST:  # the signature is the win (decision 010)
            if status in ("open", "lost"):
                return None, "status", (f"says {status} but {stage_text!r} is a post-sale phase, which only won "
                                        "deals reach")
            stage, status = None, "won"
        if status in ("won", "lost"):
            if stage is not None and stage.kind != StageKind.OPEN and stage.kind != status:
                return None, "status", f"says {status} but the stage {stage_text!r} is {stage.kind}"
            stage = self._closing(pipeline, status)
            if stage is None:
                return None, "status", f"pipeline {pipeline.key!r} has no {status} stage"
        elif status == "open" and stage is not None and stage.kind != StageKind.OPEN:
            return None, "status", f"says open but the stage {stage_text!r} is {stage.kind}"
        if stage is not None and stage.is_retired:  # an open deal would sit where no deal can (decision 036)
            return None, "stage", (f"Stage {stage.name!r} is retired; restore it in settings or map the row to "
                                   "another stage")
        return stage or self.first_open(pipeline), "", ""


class DealImporter(Importer):
    kind = "deals"
    # Fields a re-import may change, applied through update_deal (tracked ones leave a FieldChange).
    UPDATABLE = ("title", "amount", "currency", "expected_close_date", "probability_override", "forecast_category",
                 "source")

    def __init__(self, mapping: Mapping, report: ImportReport, *, create_users: bool, by: Any = None):
        super().__init__(mapping, report, create_users=create_users, by=by)
        self.pipelines = Pipelines(mapping)
        self.accounts = Accounts()
        self.lost_reasons = {normalize(r.key): r for r in LostReason.objects.all()}
        self.lost_reasons.update({normalize(r.label): r for r in LostReason.objects.all()})
        self.custom = {c.key: c for c in CustomField.objects.all()}
        unknown = [t[len("custom."):] for t in mapping.columns.values()
                   if t.startswith("custom.") and t[len("custom."):] not in self.custom]
        if unknown:
            known = ", ".join(self.custom) or "none defined yet"
            raise MappingInvalid(f"columns: unknown custom field(s) {', '.join(unknown)}; custom fields: {known}.",
                                 details={"columns": [f"unknown custom field {k!r}" for k in unknown]})
        self.seen_ids: dict[str, int] = {}
        self.now = timezone.now()

    def read_row(self, row: Row) -> DealPlan | None:
        pk = row.parse("id", parse_id)
        external_id = row.text("external_id", 100) or None
        if external_id:
            if external_id in self.seen_ids:
                row.error("external_id", f"the same id is already on row {self.seen_ids[external_id]}")
            else:
                self.seen_ids[external_id] = row.number
        title = row.text("title", 200, required=True)
        pipeline = self.pipelines.default
        if row.get("pipeline"):
            pipeline = self.pipelines.find(row.get("pipeline"))
            if pipeline is None:
                row.error("pipeline", "is not a pipeline; pipelines are: "
                          + ", ".join(p.key for p in self.pipelines.pipelines))
        stage = None
        if pipeline is None:
            row.error("pipeline", "no pipeline: set \"pipeline\" in the mapping, pass --pipeline, or map a column "
                      "to 'pipeline'", "")
        else:
            stage, at_fault, why = self.pipelines.stage(pipeline, row.get("stage"), row.get("status"))
            if stage is None:
                row.error(at_fault, why)
        # Without a stage the row is bad already; go on reading it so every problem is reported at once.
        closed = stage is not None and stage.kind != StageKind.OPEN

        values: dict[str, Any] = {}
        money = row.parse("amount", lambda t: parse_money(t, self.mapping.decimal_separator))
        values["amount"], money_currency = money if money else (None, None)
        currency = row.get("currency").upper() or money_currency or self.mapping.currency
        currency_why = currency_problem(currency)
        if currency_why:
            row.error("currency", currency_why)
        values["currency"] = currency
        close_date = row.parse("close_date", self.dates.datetime)
        expected = row.parse("expected_close_date", self.dates.date)
        values["expected_close_date"] = expected or (close_date.date() if close_date else None)
        if row.mapped("probability_override"):
            values["probability_override"] = row.parse("probability_override", lambda t: parse_int(t, 0, 100))
        category = row.parse("forecast_category", lambda t: _choice(t, ForecastCategory, {}, "forecast category"))
        if category:
            values["forecast_category"] = category
        source = row.parse("source", lambda t: _choice(t, Source, self.mapping.sources, "source"))
        if source:
            values["source"] = source
        next_step = row.text("next_step", 300)
        next_due = row.parse("next_step_due", self.dates.date)
        if next_step and next_due is None and not any(e.column == row.column("next_step_due") for e in row.errors):
            row.error("next_step", "a next step needs a due date: map a column to next_step_due")
        if row.mapped("next_step"):
            values["next_step"], values["next_step_due"] = next_step, next_due if next_step else None
        custom = self._custom_values(row)
        if custom:
            values["custom_fields"] = custom

        created_at = row.parse("created_at", self.dates.datetime)
        closed_at = row.parse("closed_at", self.dates.datetime) or (close_date if closed else None)
        if stage is not None and closed and closed_at is None and not (row.get("closed_at") or row.get("close_date")):
            row.error("closed_at" if row.mapped("closed_at") else "close_date",
                      f"a {stage.kind} deal needs the date it closed: map a column to closed_at or close_date", "")
        entered = row.parse("stage_entered_at", self.dates.datetime) if not closed else None
        created_from = CREATED if created_at else None
        if created_at is None:
            # The import day would make the deal look new: it would not count as open in the past
            # (issue 15). The earliest date the row gives stands in; a new deal without any is refused.
            created_at, created_from = min(((d, why) for d, why in ((entered, ENTERED), (closed_at, CLOSED)) if d),
                                           default=(self.now, None), key=lambda pair: pair[0])
        if closed_at and created_at > closed_at:
            row.error("created_at", f"is after the closed date {closed_at:%Y-%m-%d}")
        if entered and entered < created_at:
            row.error("stage_entered_at", f"is before the created date {created_at:%Y-%m-%d}")
        lost_reason_id, lost_note = None, ""
        if stage is not None and stage.kind == StageKind.LOST:
            lost_reason_id = self._lost_reason(row)
            lost_note = row.text("lost_note", 300)

        owner = self.owner_of(row)
        if owner is None and not (row.get("owner") or self.mapping.default_owner):
            row.error("owner", "a deal needs an owner: map a column to 'owner' or set \"default_owner\"", "")
        account_name = row.text("account", 200) or self.mapping.default_account
        account_ext = row.text("account_external_id", 100)
        if not account_name and not account_ext:
            row.error("account", "a deal needs an account: map a column to 'account' or set \"default_account\"",
                      "")
        if row.errors or stage is None or pipeline is None:
            return None
        account = self.accounts.want(account_name, account_ext)
        return DealPlan(
            row=row.number, pk=pk, external_id=external_id, title=title, pipeline=pipeline, stage=stage,
            account=account, owner=owner, values=values, created_at=created_at,
            stage_entered_at=closed_at if closed else (entered or created_at), closed_at=closed_at if closed else None,
            lost_reason_id=lost_reason_id, lost_note=lost_note, entered=entered, created_from=created_from,
        )

    def _custom_values(self, row: Row) -> dict[str, Any]:
        values = {}
        for key, spec in self.custom.items():
            name = f"custom.{key}"
            if not row.mapped(name) or not row.get(name):
                continue
            parser = {
                CustomField.Type.NUMBER: lambda t: float(parse_money(t, self.mapping.decimal_separator)[0]),
                CustomField.Type.DATE: lambda t: self.dates.date(t).isoformat(),
                CustomField.Type.BOOLEAN: parse_bool,
            }.get(spec.type, lambda t: t)
            value = row.parse(name, parser)
            if value is not None:
                values[key] = value
        return values

    def _lost_reason(self, row: Row) -> int | None:
        text = row.get("lost_reason") or self.mapping.default_lost_reason
        if not text:
            return None
        reason = self.lost_reasons.get(normalize(_lookup(self.mapping.lost_reasons, text) or text))
        if reason is None:
            valid = ", ".join(sorted({r.key for r in self.lost_reasons.values()}))
            row.error("lost_reason", f"is not a lost reason; valid reasons: {valid} (or map it under "
                      "\"lost_reasons\" in the mapping)", text)
            return None
        return reason.pk

    # What a re-import reads of the deals its rows name.
    EXISTING_FIELDS = ("id", "external_id", "pipeline_id", "stage_id", "owner_id", "team_id", "account__name",
                       "account__external_id", "next_step", "next_step_due", "custom_fields", *UPDATABLE)

    def resolve(self) -> None:
        self.accounts.load()
        by_id = self._existing("id", sorted({p.pk for p in self.plans if p.pk}))
        by_external = self._existing("external_id", [p.external_id for p in self.plans if p.external_id])
        latest = latest_moves({v["id"] for v in (*by_id.values(), *by_external.values())})
        no_lost_reason = 0
        rows_of: dict[int, int] = {}  # deal id -> the row that names it
        for plan in self.plans:
            if plan.stage.kind == StageKind.LOST and plan.lost_reason_id is None:
                no_lost_reason += 1
            plan.existing = self._match(plan, by_id, by_external)
            if plan.bad:
                continue
            if plan.existing is None:
                self._check_create(plan)
                if plan.created_from is None:
                    self.fail_plan(plan, "created_at", "",
                                   "a new deal needs the date it was created, and this row gives no date to take "
                                   "it from (created, stage entered or closed): dated today it would not count as "
                                   "open in the past; map a column to created_at or stage_entered_at")
                if not plan.bad:
                    self.plan_account(plan, None if isinstance(plan.owner, tuple) else plan.owner.pk)
                continue
            deal_id = plan.existing["id"]
            if deal_id in rows_of:
                self.fail_plan(plan, "id" if plan.pk else "external_id", str(plan.pk or plan.external_id),
                               f"names the same deal as row {rows_of[deal_id]}")
                continue
            rows_of[deal_id] = plan.row
            self._diff(plan, latest.get(deal_id))
        if no_lost_reason:
            verb = "has" if no_lost_reason == 1 else "have"
            self.report.warnings.append(f"{plural(no_lost_reason, 'lost deal')} {verb} no lost reason")
        self.plans = [p for p in self.plans if not p.bad]
        for plan in self.plans:
            if plan.existing is None:
                self.report.created += 1
                dated = self.report.created_dates
                dated[plan.created_from] = dated.get(plan.created_from, 0) + 1
            elif plan.changes:
                self.report.updated += 1
            else:
                self.report.unchanged += 1
        closed = sum(1 for p in self.plans if p.existing is None and p.closed_at is not None)
        if closed:
            verb = "goes" if closed == 1 else "go"
            self.report.facts.append(
                f"This file carries no stage path: {plural(closed, 'new closed deal')} {verb} from their first "
                "stage straight to Won or Lost, so the stages in between learn nothing from them (conversion, "
                "time in stage, learned probabilities). Import their stage history too: dealgate import "
                "stage-history FILE --mapping hubspot|salesforce|pipedrive|generic, or Stage history on the "
                "Import page.")

    def _existing(self, field_name: str, values: list[Any]) -> dict[Any, dict[str, Any]]:
        found: dict[Any, dict[str, Any]] = {}
        for chunk in matching(Deal.objects.order_by(), field_name, values):
            for values_ in chunk.values(*self.EXISTING_FIELDS):
                found[values_[field_name]] = values_
        return found

    def _match(self, plan: DealPlan, by_id: dict[int, dict], by_external: dict[str, dict]) -> dict[str, Any] | None:
        """The deal a row names: by id first, then by external id. An id whose deal carries another
        external id than the row's is another deal here (a file from another installation): the
        external id decides. A deal matched by id alone must be of the row's account."""
        old = by_id.get(plan.pk) if plan.pk else None
        if old is not None and plan.external_id and old["external_id"] and old["external_id"] != plan.external_id:
            old = None
        if old is not None and not (plan.external_id and old["external_id"] == plan.external_id):
            if not self._may_change(plan, old):
                return None
            if not _same_account(old, plan.account):
                self.fail_plan(plan, "id", str(plan.pk),
                               "is a deal of another account in this installation; an import does not move deals "
                               "between accounts (if the file comes from another Dealgate, delete its id column)")
                return None
            return old
        old = by_external.get(plan.external_id) if plan.external_id else None
        if old is not None and not self._may_change(plan, old):
            return None
        return old

    def _may_change(self, plan: DealPlan, old: dict[str, Any]) -> bool:
        """The rules of the app (people.access): a manager changes their team's deals, an admin any."""
        if self.by is None or can_edit_deal(self.by, _DealRef(old["owner_id"], old["team_id"])):
            return True
        named = "id" if plan.pk == old["id"] else "external_id"
        self.fail_plan(plan, named, str(plan.pk if named == "id" else plan.external_id),
                       f"names a deal {self.by.username} may not change (another team's); this row was refused "
                       "and nothing about that deal changed")
        return False

    def _check_create(self, plan: DealPlan) -> None:
        owner = None if isinstance(plan.owner, tuple) else plan.owner
        if not can_create_deal_for(self.by, owner):
            self.fail_plan(plan, "owner", getattr(owner, "username", ""),
                           f"{self.by.username} may only create deals they own")

    def _diff(self, plan: DealPlan, latest_move: dt.datetime | None) -> None:
        old = plan.existing
        assert old is not None
        if old["pipeline_id"] != plan.pipeline.pk:
            self.fail_plan(plan, "pipeline", plan.pipeline.key,
                           f"deal {plan.external_id or plan.pk!r} is in another pipeline; an import does not move "
                           "deals between pipelines")
            return
        if old["stage_id"] != plan.stage.pk and not self._move_dated_after(plan, latest_move):
            return
        wanted = {"title": plan.title, **plan.values}
        for name, value in wanted.items():
            if name == "custom_fields":
                value = {**old["custom_fields"], **value}
            if old.get(name) != value:
                plan.changes[name] = value
        if old["stage_id"] != plan.stage.pk:
            plan.changes["stage"] = plan.stage
        if isinstance(plan.owner, tuple) or plan.owner.pk != old["owner_id"]:
            plan.changes["owner"] = plan.owner
        if plan.changes:
            described = "; ".join(
                f"{k} {old.get(k)!s} -> {getattr(v, 'name', v)!s}" if k not in ("stage", "owner") else f"{k} changes"
                for k, v in plan.changes.items())
            _sample(self.report, f"row {plan.row} ({plan.external_id or plan.pk}): {described}")

    def _move_dated_after(self, plan: DealPlan, latest_move: dt.datetime | None) -> bool:
        """A stage change is one more history row; dated before the deal's latest one, it would leave
        the deal in one stage and its history in another. Such a row is refused, not clamped."""
        at = plan.entered if plan.stage.is_open else plan.closed_at
        if at is None or latest_move is None or at >= latest_move:
            return True
        name = "stage_entered_at" if plan.stage.is_open else (
            "closed_at" if self.mapping.columns_for("closed_at") else "close_date")
        latest = latest_move.astimezone(self.dates.zone)  # in the zone the file's dates are read in
        self.fail_plan(plan, name, at.isoformat(),
                       f"is before the deal's latest stage change ({latest:%Y-%m-%d %H:%M}); a move cannot be dated "
                       "before it: give a later date or leave the stage as it is")
        return False

    DEAL_COLUMNS = ["title", "account", "owner", "team", "pipeline", "stage", "external_id", "created_at",
                    "stage_entered_at", "closed_at", "lost_reason", "lost_note", "amount", "currency",
                    "expected_close_date", "probability_override", "forecast_category", "source", "next_step",
                    "next_step_due", "custom_fields", "close_date_slips", "version"]
    HISTORY_COLUMNS = ["deal", "from_stage", "to_stage", "kind", "at", "by", "amount", "currency", "probability",
                       "override", "override_reason", "imported"]

    def write(self) -> None:
        if self.people:
            self.people.create_planned(self.report)
        self.report.accounts_created = self.accounts.create()
        new = [p for p in self.plans if p.existing is None]
        deals, histories = BulkWriter(Deal, self.DEAL_COLUMNS), BulkWriter(StageHistory, self.HISTORY_COLUMNS)
        for chunk in chunks(new):
            ids = deals.insert_returning([self._new_deal(p) for p in chunk])
            history = [row for plan, pk in zip(chunk, ids) for row in self._history(plan, pk)]
            history_ids = histories.insert_returning(history)
            # Raw inserts bypass the models' hook: the state spans are written from the rows in hand.
            moves: dict[int, list[tuple]] = {}
            for hid, (deal, _, stage, kind, at, _, amount, currency, probability, *_) in zip(history_ids, history):
                moves.setdefault(deal, []).append((at, hid, kind, stage, probability, amount, currency))
                deal_event("created" if kind == MoveKind.CREATED else "moved", deal, f"history:{hid}")
            write_new_deals({pk: self._span_facts(plan) for plan, pk in zip(chunk, ids)}, moves)
            write_entries([audit_entry(None, "created", by=None, object_type="deal", object_id=pk, name=plan.title,
                                       field="stage", after=plan.stage.name) for plan, pk in zip(chunk, ids)])
            self.report.history_rows += len(history)
        changed = [p for p in self.plans if p.existing is not None and p.changes]
        for chunk in chunks(changed):
            deals = Deal.objects.select_related("stage", "pipeline").in_bulk([p.existing["id"] for p in chunk])
            for plan in chunk:
                self._apply_changes(plan, deals[plan.existing["id"]])

    def _new_deal(self, plan: DealPlan) -> tuple:
        """One row of DEAL_COLUMNS; fields the file does not give take the model's defaults."""
        owner = self.people.user(plan.owner)
        v = plan.values
        return (
            plan.title, self.accounts.id_of(plan.account), owner.pk,
            getattr(getattr(owner, "profile", None), "team_id", None), plan.pipeline.pk, plan.stage.pk,
            plan.external_id, plan.created_at, plan.stage_entered_at, plan.closed_at, plan.lost_reason_id,
            plan.lost_note, v.get("amount"), v["currency"], v.get("expected_close_date"),
            v.get("probability_override"), v.get("forecast_category") or ForecastCategory.PIPELINE,
            v.get("source") or Source.OUTBOUND, v.get("next_step") or "", v.get("next_step_due"),
            v.get("custom_fields") or {}, 0, 1,
        )

    def _span_facts(self, plan: DealPlan) -> dict[str, Any]:
        """What the state spans copy from a new deal (timeline.DEAL_COLUMNS)."""
        owner = self.people.user(plan.owner)
        return {"pipeline_id": plan.pipeline.pk, "created_at": plan.created_at,
                "expected_close_date": plan.values.get("expected_close_date"),
                "forecast_category": plan.values.get("forecast_category") or ForecastCategory.PIPELINE,
                "owner_id": owner.pk, "team_id": getattr(getattr(owner, "profile", None), "team_id", None)}

    def _history(self, plan: DealPlan, deal_id: int) -> list[tuple]:
        """Created in the first stage at the created date; then the current stage, Won or Lost."""
        first = self.pipelines.first_open(plan.pipeline)
        override = plan.values.get("probability_override")
        amount, currency = plan.values.get("amount"), plan.values["currency"]
        by_id = self.by.pk if self.by is not None else None

        def row(from_stage: Stage | None, to_stage: Stage, kind: str, at: dt.datetime) -> tuple:
            probability = {"won": 100, "lost": 0}.get(to_stage.kind, override if override is not None
                                                      else to_stage.probability)
            return (deal_id, from_stage.pk if from_stage else None, to_stage.pk, kind, at, by_id, amount, currency,
                    probability, False, "", True)

        rows = [row(None, first, MoveKind.CREATED, plan.created_at)]
        if plan.stage.pk != first.pk:
            kind = {"won": MoveKind.WON, "lost": MoveKind.LOST}.get(plan.stage.kind, MoveKind.FORWARD)
            rows.append(row(first, plan.stage, kind, plan.stage_entered_at))
        return rows

    def _apply_changes(self, plan: DealPlan, deal: Deal) -> None:
        changes = dict(plan.changes)
        stage = changes.pop("stage", None)
        owner = changes.pop("owner", None)
        next_step = {k: changes.pop(k) for k in ("next_step", "next_step_due") if k in changes}
        if changes:
            update_deal(deal, by=self.by, **changes)
        if next_step:
            set_next_step(deal, by=self.by, text=plan.values.get("next_step", ""),
                          due=plan.values.get("next_step_due"))
        if stage is not None:
            # An open stage the file gives no date for was entered "by now": the import is when we learn it.
            record_imported_move(deal, stage, by=self.by, at=plan.entered if stage.is_open else plan.closed_at,
                                 lost_reason_id=plan.lost_reason_id, lost_note=plan.lost_note)
            self.report.history_rows += 1
        if owner is not None:  # last: a manager handing a deal to another team may not change it afterwards
            reassign_deal(deal, self.people.user(owner), by=self.by)


def record_imported_move(deal: Deal, to_stage: Stage, *, by: Any, at: dt.datetime | None,
                         lost_reason_id: int | None = None, lost_note: str = "") -> StageHistory:
    """Put a deal where the other system says it is, as imported history (not gated: it already happened).

    Refuses a move dated before the deal's latest history row (the import's read phase reports it
    per row first): the deal would sit in one stage while its history ended in another."""
    with transaction.atomic():
        locked = Deal.objects.select_for_update().select_related("stage").get(pk=deal.pk)
        if by is not None and not can_edit_deal(by, locked):
            raise NotAllowed(f"{by} may not change deal {locked.pk}.", details={"deal": locked.pk})
        from_stage = locked.stage
        at = at or timezone.now()
        latest = latest_moves([locked.pk]).get(locked.pk)
        if latest is not None and at < latest:
            utc = dt.timezone.utc
            raise ValidationFailed.for_field(
                "stage_entered_at", f"{at.astimezone(utc):%Y-%m-%d %H:%M} UTC is before deal {locked.pk}'s latest "
                f"stage change ({latest.astimezone(utc):%Y-%m-%d %H:%M} UTC)")
        if to_stage.kind in (StageKind.WON, StageKind.LOST):
            kind = to_stage.kind
        elif from_stage.kind != StageKind.OPEN:
            kind = MoveKind.REOPENED
        else:
            kind = MoveKind.FORWARD if to_stage.position > from_stage.position else MoveKind.BACKWARD
        locked.stage, locked.stage_entered_at = to_stage, at
        if to_stage.kind == StageKind.OPEN:
            locked.closed_at, locked.lost_reason_id, locked.lost_note = None, None, ""
        else:
            locked.closed_at = at
            locked.lost_reason_id = lost_reason_id if to_stage.kind == StageKind.LOST else None
            locked.lost_note = lost_note if to_stage.kind == StageKind.LOST else ""
        locked.version += 1
        locked.save(update_fields=["stage", "stage_entered_at", "closed_at", "lost_reason", "lost_note", "version"])
        deal.stage, deal.version = to_stage, locked.version
        record(locked, kind if kind in ("won", "lost", "reopened") else "moved", by=None, field="stage",
               before=from_stage.name, after=to_stage.name, note=f"imported, dated {at:%Y-%m-%d}")
        row = StageHistory.objects.create(
            deal=locked, from_stage=from_stage, to_stage=to_stage, kind=kind, at=at, by=by, amount=locked.amount,
            currency=locked.currency, probability=locked.effective_probability, imported=True)
        deal_event("moved", locked.pk, f"history:{row.pk}")  # held unless the import runs the rules
        return row


def latest_moves(deal_ids: Iterable[int]) -> dict[int, dt.datetime]:
    """Each deal's latest stage history time: an imported move may not be dated before it."""
    latest: dict[int, dt.datetime] = {}
    for chunk in chunks(sorted(deal_ids)):
        latest.update(StageHistory.objects.filter(deal_id__in=chunk).order_by().values("deal_id")
                      .annotate(latest=Max("at")).values_list("deal_id", "latest"))
    return latest


class _DealRef(NamedTuple):
    """What people.access reads of a deal, for deals read as values."""

    owner_id: int
    team_id: int | None


def _same_account(deal: dict[str, Any], account: tuple[str, str]) -> bool:
    """Whether a deal read as values is of the account a row names (by external id, else by name)."""
    name, ext = account
    if ext:
        return deal["account__external_id"] == ext
    return (deal["account__name"] or "").casefold() == name.casefold()


def parse_id(text: str) -> int:
    return parse_int(text, 1, 2**63 - 1)


# ---------------------------------------------------------------------------------------------
# Accounts and contacts: created in bulk, updated in bulk, matched by external id (else name/e-mail)


@dataclass(slots=True)
class RecordPlan:
    row: int
    key: str | None
    pk: int | None  # the file's id column: this installation's id (Dealgate's own exports)
    values: dict[str, Any]
    account: tuple[str, str] | None = None
    owner: Any = None
    existing_id: int | None = None
    changes: dict[str, Any] = field(default_factory=dict)
    bad: bool = False


class RecordImporter(Importer):
    """Shared by accounts and contacts: a key per row, existing rows found in bulk, diffs applied."""

    model: Any = None
    key_field = ""  # natural key when the mapping has no external id

    def __init__(self, mapping: Mapping, report: ImportReport, *, create_users: bool, by: Any = None):
        super().__init__(mapping, report, create_users=create_users, by=by)
        self.by_external = bool(mapping.columns_for("external_id"))
        self.seen: dict[str, int] = {}
        self.accounts = Accounts()

    def key_of(self, row: Row, values: dict[str, Any]) -> str | None:
        key = row.text("external_id", 100) if self.by_external else str(values.get(self.key_field) or "")
        key = key or None
        if key:
            folded = key if self.by_external else key.casefold()
            if folded in self.seen:
                row.error("external_id" if self.by_external else self.key_field,
                          f"the same {'id' if self.by_external else self.key_field} is already on row "
                          f"{self.seen[folded]}")
            self.seen[folded] = row.number
        return key

    def resolve(self) -> None:
        self.accounts.load()
        for plan in self.plans:
            if plan.account is not None:
                self.plan_account(plan, self.by.pk if self.by is not None else None)
                found = self.accounts.existing(plan.account)
                plan.values["account_id"] = NEW if found is None else found
        lookup = "external_id" if self.by_external else self.key_field
        keys = [p.key for p in self.plans if p.key]
        existing: dict[str, dict[str, Any]] = {}
        value_names = sorted({k for p in self.plans for k in p.values} | {"id", "external_id", lookup})
        rows = self.model.objects.all() if self.by_external else self.model.objects.annotate(folded=Lower(lookup))
        field, wanted = (lookup, keys) if self.by_external else ("folded", [k.casefold() for k in keys])
        for found in matching(rows, field, wanted):
            for values in found.order_by("-id").values(*value_names):
                key = values[lookup] if self.by_external else values[lookup].casefold()
                existing[key] = values
        by_id: dict[int, dict[str, Any]] = {}
        for found in matching(self.model.objects.all(), "id", sorted({p.pk for p in self.plans if p.pk})):
            by_id.update((values["id"], values) for values in found.values(*value_names))
        rows_of: dict[int, int] = {}  # record id -> the row that names it
        for plan in self.plans:
            if plan.bad:
                continue
            old = self._match(plan, by_id, existing)
            if old is not None and old["id"] in rows_of:
                self.fail_plan(plan, "id" if plan.pk else lookup, str(plan.pk or plan.key),
                               f"names the same {self.model.__name__.lower()} as row {rows_of[old['id']]}")
                continue
            if old is None:
                self.report.created += 1
                continue
            rows_of[old["id"]] = plan.row
            plan.existing_id = old["id"]
            plan.changes = {k: v for k, v in plan.values.items() if old.get(k) != v}
            if "owner_id" in plan.changes and self.by is not None and role_of(self.by) != Role.ADMIN:
                # The app lets nobody but an administrator (Django admin) hand an account to someone else.
                self.fail_plan(plan, "owner", getattr(plan.owner, "username", str(plan.owner)),
                               "only an administrator may change the owner of an existing account")
                continue
            if plan.changes:
                self.report.updated += 1
                _sample(self.report, f"row {plan.row} ({plan.key}): " + "; ".join(
                    f"{k} {old.get(k)!s} -> {v!s}" for k, v in plan.changes.items()))
            else:
                self.report.unchanged += 1
        self.plans = [p for p in self.plans if not p.bad]

    def _match(self, plan: RecordPlan, by_id: dict[int, dict], existing: dict[str, dict]) -> dict[str, Any] | None:
        """By id first (unless that record carries another external id than the row: then the id is
        another installation's), then by external id, or by name / e-mail when there is none."""
        old = by_id.get(plan.pk) if plan.pk else None
        if old is not None and not (self.by_external and plan.key and old["external_id"]
                                    and old["external_id"] != plan.key):
            return old
        return existing.get(plan.key if self.by_external else plan.key.casefold()) if plan.key else None

    def created_defaults(self) -> dict[str, Any]:
        """Values of new records the row does not give."""
        return {}

    def finish_values(self, plan: RecordPlan) -> dict[str, Any]:
        values = dict(plan.values)
        if "account_id" in values and plan.account is not None:
            values["account_id"] = self.accounts.id_of(plan.account)
        if "owner_id" in values and plan.owner is not None:
            values["owner_id"] = self.people.user(plan.owner).pk
        return values

    def write(self) -> None:
        if self.people:
            self.people.create_planned(self.report)
        self.report.accounts_created = self.accounts.create()
        defaults = self.created_defaults()
        external = (lambda plan: {"external_id": plan.key}) if self.by_external else (lambda plan: {})
        new = [self.model(**{**defaults, **self.finish_values(p), **external(p)})
               for p in self.plans if p.existing_id is None]
        self.model.objects.bulk_create(new, batch_size=CHUNK)
        write_entries([audit_entry(row, "created", by=None) for row in new])
        # Records that changed the same fields are updated together, with those fields only: a row
        # built from its own changes holds the model's defaults in every other field, so one
        # bulk_update of every field any record changed blanked what the others had kept.
        changed: dict[tuple[str, ...], list[Any]] = {}
        for plan in self.plans:
            if plan.existing_id is not None and plan.changes:
                values, names = self.finish_values(plan), tuple(sorted(plan.changes))
                changed.setdefault(names, []).append(self.model(id=plan.existing_id, **{k: values[k] for k in names}))
        for names, rows in changed.items():
            self._audit_changes(rows, list(names))
            self.model.objects.bulk_update(rows, list(names), batch_size=CHUNK)

    def _audit_changes(self, changed: list[Any], names: list[str]) -> None:
        """One audit entry per changed field, the old values read in one query per chunk. A
        reference (owner_id, account_id) is logged by the name of the row it points at, as the
        app's own edits log it, not by its id."""
        for chunk in chunks(changed):
            old = self.model.objects.in_bulk([row.pk for row in chunk])
            rows = [(row, name) for row in chunk for name in names
                    if row.pk in old and getattr(old[row.pk], name) != getattr(row, name)]
            referred = {}
            for name in {name for _, name in rows}:
                target = self.model._meta.get_field(name.removesuffix("_id")).related_model
                if target is not None:
                    ids = {getattr(r, name) for r, n in rows if n == name} | {
                        getattr(old[r.pk], name) for r, n in rows if n == name}
                    referred[name] = target.objects.in_bulk([i for i in ids if i is not None])

            def shown(name: str, value: Any) -> Any:
                return referred[name].get(value, value) if name in referred else value

            write_entries([audit_entry(old[row.pk], "changed", by=None, field=name.removesuffix("_id"),
                                       before=shown(name, getattr(old[row.pk], name)),
                                       after=shown(name, getattr(row, name)))
                           for row, name in rows])

    def account_of(self, row: Row) -> tuple[str, str] | None:
        name, ext = row.text("account", 200), row.text("account_external_id", 100)
        return self.accounts.want(name, ext) if (name or ext) else None


class AccountImporter(RecordImporter):
    kind = "accounts"
    model = Account
    key_field = "name"

    def read_row(self, row: Row) -> RecordPlan | None:
        values: dict[str, Any] = {"name": row.text("name", 200, required=True)}
        if row.mapped("segment"):
            values["segment"] = row.text("segment", 50)
        owner = self.owner_of(row) if row.mapped("owner") or self.mapping.default_owner else None
        if owner is not None:
            values["owner_id"] = NEW if isinstance(owner, tuple) else owner.pk
        key = self.key_of(row, values)
        pk = row.parse("id", parse_id)
        return None if row.errors else RecordPlan(row=row.number, key=key, pk=pk, values=values, owner=owner)

    def created_defaults(self) -> dict[str, Any]:
        # As create_account: an account nobody is named to own belongs to whoever created it.
        return {"owner_id": self.by.pk} if self.by is not None else {}


class ContactImporter(RecordImporter):
    kind = "contacts"
    model = Contact
    key_field = "email"

    def read_row(self, row: Row) -> RecordPlan | None:
        name = row.get("name") or " ".join(p for p in (row.get("first_name"), row.get("last_name")) if p)
        if not name:
            row.error("name", "is required (or first_name/last_name)", "")
        elif len(name) > 200:
            row.error("name", "is longer than 200 characters", name)
        values: dict[str, Any] = {"name": name[:200]}
        for name_, length in (("email", 254), ("phone", 50), ("title", 100)):
            if row.mapped(name_):
                values[name_] = row.text(name_, length)
        email = values.get("email", "")
        if email and ("@" not in email or email.startswith("@") or email.endswith("@") or " " in email):
            row.error("email", "is not an e-mail address")
        account = self.account_of(row)
        key = self.key_of(row, values)
        pk = row.parse("id", parse_id)
        return None if row.errors else RecordPlan(row=row.number, key=key, pk=pk, values=values, account=account)


# ---------------------------------------------------------------------------------------------
# Activities: appended; a row identical to an existing activity (same deal/account, kind,
# subject and time) is left alone, so re-importing a file does not log calls twice.


@dataclass(slots=True)
class ActivityPlan:
    row: int
    kind: str
    subject: str
    occurred_at: dt.datetime
    outcome: str
    notes: str
    deal_ext: str
    account: tuple[str, str] | None
    by: Any
    deal_pk: int | None = None  # the file's deal_id column: this installation's id (Dealgate's exports)
    deal_id: int | None = None
    account_id: int | None = None
    bad: bool = False  # names a deal that does not exist
    logged: bool = False  # the same activity is already there


class ActivityImporter(Importer):
    kind = "activities"

    def __init__(self, mapping: Mapping, report: ImportReport, *, create_users: bool, by: Any = None):
        super().__init__(mapping, report, create_users=create_users, by=by)
        self.accounts = Accounts()

    def read_row(self, row: Row) -> ActivityPlan | None:
        kind = row.parse("kind", lambda t: _choice(t, ActivityKind, self.mapping.kinds, "kind of activity"))
        subject = row.text("subject", 200, required=True)
        occurred_at = row.parse("occurred_at", self.dates.datetime)
        if occurred_at is None and not row.get("occurred_at"):
            row.error("occurred_at", "is required", "")
        deal_ext = row.text("deal_external_id", 100)
        deal_pk = row.parse("deal_id", parse_id)
        name, ext = row.text("account", 200), row.text("account_external_id", 100)
        account = self.accounts.want(name, ext) if (name or ext) else None
        if not deal_ext and not row.get("deal_id") and account is None:
            row.error("deal_external_id", "an activity belongs to a deal or an account: neither is given", "")
        by = self.owner_of(row, "by")
        if row.errors:
            return None
        return ActivityPlan(row=row.number, kind=kind, subject=subject, occurred_at=occurred_at,
                            outcome=outcome_key(row.text("outcome", 50)), notes=row.text("notes", 10_000),
                            deal_ext=deal_ext, account=account, by=by, deal_pk=deal_pk)

    def resolve(self) -> None:
        self.accounts.load()
        by_id, by_external = self.deals_named()
        for plan in self.plans:
            if plan.deal_pk or plan.deal_ext:
                deal = self.deal_of(plan, by_id, by_external)
                if deal is None:
                    continue
                plan.deal_id, plan.account_id = deal["id"], deal["account_id"]
                if self.by is not None and not can_edit_deal(self.by, _DealRef(deal["owner_id"], deal["team_id"])):
                    # As log_activity: an activity on a deal is a change to that deal.
                    named = "deal_id" if plan.deal_pk == deal["id"] else "deal_external_id"
                    self.fail_plan(plan, named, str(plan.deal_pk if named == "deal_id" else plan.deal_ext),
                                   f"names a deal {self.by.username} may not change (another team's); this row "
                                   "was refused")
            else:
                plan.account_id = self.accounts.existing(plan.account)
                if plan.account_id is None:
                    self.plan_account(plan, self.by.pk if self.by is not None else None)
        self.plans = [p for p in self.plans if not p.bad]
        known = self._existing_keys()
        for plan in self.plans:
            key = self._key(plan)
            if key in known:
                self.report.unchanged += 1
                plan.logged = True
            else:
                known.add(key)
                self.report.created += 1

    @staticmethod
    def _key(plan: ActivityPlan) -> tuple:
        return (plan.deal_id, plan.account_id if plan.deal_id is None else None, plan.kind, plan.subject,
                plan.occurred_at.astimezone(dt.timezone.utc).replace(microsecond=0))

    def _existing_keys(self) -> set[tuple]:
        keys: set[tuple] = set()
        fields = ("deal_id", "account_id", "kind", "subject", "occurred_at")

        def add(rows: Iterable[tuple]) -> None:
            for deal_id, account_id, kind, subject, at in rows:
                keys.add((deal_id, account_id if deal_id is None else None, kind, subject,
                          at.astimezone(dt.timezone.utc).replace(microsecond=0)))

        deal_ids = sorted({p.deal_id for p in self.plans if p.deal_id})
        for chunk in chunks(deal_ids):
            add(Activity.objects.filter(deal_id__in=chunk).values_list(*fields))
        account_ids = sorted({p.account_id for p in self.plans if p.deal_id is None and p.account_id})
        for chunk in chunks(account_ids):
            add(Activity.objects.filter(deal__isnull=True, account_id__in=chunk).values_list(*fields))
        return keys

    def write(self) -> None:
        if self.people:
            self.people.create_planned(self.report)
        self.report.accounts_created = self.accounts.create()
        new = [p for p in self.plans if not p.logged]
        for plan in new:
            if plan.deal_id is None and plan.account_id is None:
                plan.account_id = self.accounts.id_of(plan.account)
        Activity.objects.bulk_create([
            Activity(deal_id=p.deal_id, account_id=p.account_id, kind=p.kind, subject=p.subject, outcome=p.outcome,
                     notes=p.notes, occurred_at=p.occurred_at, by=self.people.user(p.by) if p.by else self.by)
            for p in new], batch_size=CHUNK)
        # A deal's last activity is the latest of all its activities, imported ones included.
        deal_ids = sorted({p.deal_id for p in new if p.deal_id})
        latest = Activity.objects.filter(deal_id=OuterRef("pk")).order_by("-occurred_at").values("occurred_at")[:1]
        for chunk in chunks(deal_ids):
            Deal.objects.filter(pk__in=chunk).update(last_activity_at=Subquery(latest), version=F("version") + 1)


# ---------------------------------------------------------------------------------------------
# Stage history: the path a deal took through the stages in the other system (HubSpot's deal stage
# history, Salesforce's OpportunityHistory, Pipedrive's deal flow, a generic file), added to the
# deals' append-only StageHistory between their created row and their current stage. Imported deals
# otherwise go straight from their first stage to Won or Lost, so the stages in between learn
# nothing from them (issue 15).


@dataclass(slots=True)
class StagePlan:
    row: int
    deal_pk: int | None
    deal_ext: str
    stage_text: str
    entered_at: dt.datetime
    account: None = None  # (deal_of: a stage row names its deal only)
    deal: dict[str, Any] | None = None
    stage: Stage | None = None
    known: bool = False  # already in the deal's history
    repeat: bool = False  # names the stage the deal was already in at that time: no stage change
    bad: bool = False


class StageHistoryImporter(Importer):
    kind = "stage-history"

    def __init__(self, mapping: Mapping, report: ImportReport, *, create_users: bool, by: Any = None):
        super().__init__(mapping, report, create_users=create_users, by=by)
        self.pipelines = Pipelines(mapping)
        self.skipped = 0

    def read_row(self, row: Row) -> StagePlan | None:
        for column, wanted in self.mapping.rows_where.items():
            if row.get(WHERE + column).casefold() != wanted.casefold():
                self.skipped += 1
                return None
        deal_ext = row.text("deal_external_id", 100)
        deal_pk = row.parse("deal_id", parse_id)
        if not deal_ext and not row.get("deal_id"):
            row.error("deal_external_id", "a stage row names its deal: map a column to deal_external_id or deal_id",
                      "")
        stage_text = row.text("stage", 200, required=True)
        entered_at = row.parse("entered_at", self.dates.datetime)
        if entered_at is None and not row.get("entered_at"):
            row.error("entered_at", "is required: when the deal entered the stage", "")
        if row.errors:
            return None
        return StagePlan(row=row.number, deal_pk=deal_pk, deal_ext=deal_ext, stage_text=stage_text,
                         entered_at=entered_at)

    def resolve(self) -> None:
        by_id, by_external = self.deals_named()
        pipelines = {p.pk: p for p in self.pipelines.pipelines}
        for plan in self.plans:
            plan.deal = self.deal_of(plan, by_id, by_external)
            if plan.deal is None:
                continue
            if self.by is not None and not can_edit_deal(self.by, _DealRef(plan.deal["owner_id"],
                                                                            plan.deal["team_id"])):
                named = "deal_id" if plan.deal_pk == plan.deal["id"] else "deal_external_id"
                self.fail_plan(plan, named, str(plan.deal_pk if named == "deal_id" else plan.deal_ext),
                               f"names a deal {self.by.username} may not change (another team's); this row was "
                               "refused")
                continue
            pipeline = pipelines[plan.deal["pipeline_id"]]
            plan.stage, _, why = self.pipelines.stage(pipeline, plan.stage_text, "")
            if plan.stage is None:
                self.fail_plan(plan, "stage", plan.stage_text, why)
        self.plans = [p for p in self.plans if not p.bad]
        self._place()
        repeats = sum(1 for p in self.plans if p.repeat and not p.bad)
        self.plans = [p for p in self.plans if not p.bad and not p.repeat]
        self.report.created = sum(1 for p in self.plans if not p.known)
        self.report.unchanged = sum(1 for p in self.plans if p.known)
        if self.skipped:
            where = ", ".join(f"{c} is {v!r}" for c, v in self.mapping.rows_where.items())
            self.report.warnings.append(f"{plural(self.skipped, 'row')} left out: only rows where {where} are "
                                        "stage changes")
        if repeats:
            self.report.warnings.append(
                f"{plural(repeats, 'row')} left out as already known: the deal was already in the row's stage "
                "at its date, so there is no stage change to record")

    def _place(self) -> None:
        """Each row against its deal's history: a row already there is known; a new one must fall
        after the deal was created and before its current stage was entered (that move, and Won or
        Lost, come from the deal file), at an instant no other stage change of the deal has."""
        deal_ids = sorted({p.deal["id"] for p in self.plans})
        history: dict[int, list[tuple[dt.datetime, int]]] = {}
        for chunk in chunks(deal_ids):
            for deal_id, at, stage_id in (StageHistory.objects.filter(deal_id__in=chunk).order_by("at", "id")
                                          .values_list("deal_id", "at", "to_stage_id")):
                history.setdefault(deal_id, []).append((at, stage_id))
        zone = self.dates.zone
        for plan in sorted(self.plans, key=lambda p: (p.deal["id"], p.entered_at)):
            rows = history.get(plan.deal["id"])
            if not rows:  # a deal always has its created row; without one there is nothing to place it in
                self.fail_plan(plan, "stage", plan.stage_text, "the deal has no stage history to add to")
                continue
            same_time = [stage_id for at, stage_id in rows if at == plan.entered_at]
            if plan.stage.pk in same_time:
                plan.known = True
                continue
            if plan.stage.kind != StageKind.OPEN:
                self.fail_plan(plan, "stage", plan.stage_text,
                               f"the deal is not {plan.stage.kind} at {plan.entered_at:%Y-%m-%d %H:%M} in Dealgate: "
                               "Won and Lost come from the deal file (its closed date); import the deals again "
                               "with that date")
                continue
            first, last = rows[0][0], rows[-1][0]
            if plan.entered_at < first or plan.entered_at >= last:
                self.fail_plan(plan, "entered_at", plan.entered_at.isoformat(),
                               f"is outside the deal's history ({first.astimezone(zone):%Y-%m-%d %H:%M} to "
                               f"{last.astimezone(zone):%Y-%m-%d %H:%M}): a stage path falls between the deal's "
                               "creation and its current stage, which the deal file sets")
                continue
            if same_time:
                self.fail_plan(plan, "entered_at", plan.entered_at.isoformat(),
                               "another stage change of this deal is at the same instant")
                continue
            if [stage_id for at, stage_id in rows if at < plan.entered_at][-1] == plan.stage.pk:
                plan.repeat = True  # the deal was already in that stage then (an export repeating it): no move
                continue
            rows.append((plan.entered_at, plan.stage.pk))
            rows.sort(key=lambda pair: pair[0])

    def write(self) -> None:
        new = [p for p in self.plans if not p.known]
        if not new:
            return
        deal_ids = sorted({p.deal["id"] for p in new})
        existing: dict[int, list[StageHistory]] = {}
        for chunk in chunks(deal_ids):
            for row in StageHistory.objects.filter(deal_id__in=chunk).select_related("to_stage").order_by("at", "id"):
                existing.setdefault(row.deal_id, []).append(row)
        by_id = self.by.pk if self.by is not None else None
        rows, audit = [], []
        for deal_id in deal_ids:
            added = sorted((p for p in new if p.deal["id"] == deal_id), key=lambda p: p.entered_at)
            path = existing[deal_id]
            for plan in added:
                before = [r for r in path if r.at < plan.entered_at][-1]  # the move just before (created at least)
                previous = before.to_stage
                kind = (MoveKind.REOPENED if previous.kind != StageKind.OPEN else
                        MoveKind.FORWARD if plan.stage.position > previous.position else MoveKind.BACKWARD)
                row = StageHistory(deal_id=deal_id, from_stage=previous, to_stage=plan.stage, kind=kind,
                                   at=plan.entered_at, by_id=by_id, amount=before.amount, currency=before.currency,
                                   probability=plan.stage.probability, imported=True)
                rows.append(row)
                path = sorted([*path, row], key=lambda r: r.at)
            audit.append(audit_entry(None, "changed", by=None, object_type="deal", object_id=deal_id,
                                     name=added[0].deal["external_id"] or str(deal_id), field="stage history",
                                     after=" > ".join(p.stage.name for p in added)))
        StageHistory.objects.bulk_create(rows, batch_size=CHUNK)  # rebuilds the deals' state spans
        write_entries(audit)
        self.report.history_rows = len(rows)


IMPORTERS: dict[str, type[Importer]] = {
    "deals": DealImporter,
    "accounts": AccountImporter,
    "contacts": ContactImporter,
    "activities": ActivityImporter,
    "stage-history": StageHistoryImporter,
}
assert set(IMPORTERS) == set(FIELDS)
