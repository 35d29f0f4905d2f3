"""Every write to deals, accounts, contacts and activities.

UI, API, CLI, imports and automation call these functions and nothing else that writes. Each
one validates first, then writes the rows and their history inside one transaction, so a
refusal leaves nothing behind. `by=None` means the system itself (automation, imports).
"""

from __future__ import annotations

import datetime as dt
import math
import re
from decimal import Decimal, InvalidOperation
from typing import Any, Iterable

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import OuterRef, Subquery
from django.utils import timezone

from dealgate.audit.services import record, record_changes
from dealgate.deals.currencies import is_currency_code
from dealgate.automation.events import deal_event
from dealgate.deals.models import (
    Account,
    Activity,
    ActivityKind,
    Approval,
    ChecklistAnswer,
    Contact,
    ContactRole,
    Deal,
    DealContact,
    FieldChange,
    ForecastCategory,
    MoveKind,
    Source,
    StageHistory,
)
from dealgate.errors import Conflict, MoveBlocked, NotAllowed, NotFound, ValidationFailed
from dealgate.inputs import storable_text
from dealgate.people.access import can_create_deal_for, can_edit_deal, can_override, role_of, team_id_of
from dealgate.pipelines.criteria import evaluate, load_facts, outcome_key
from dealgate.pipelines.gate import PipelineRules
from dealgate.pipelines.models import LostReason, Pipeline, RulesVersion, Stage, StageKind
from dealgate.words import plural

# ---------------------------------------------------------------------------------------------
# Parsing helpers: turn user input into values or a ValidationFailed naming the field.


# The one range of calendar dates Dealgate stores, whatever the surface (web, API, CLI, import):
# dates far outside a sales horizon only ever come from typos, spreadsheets' day zero or fuzzers.
EARLIEST_DATE = dt.date(1900, 1, 1)
LATEST_DATE = dt.date(2999, 12, 31)
ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def _ascii_text(value: Any, field: str, what: str) -> str:
    """Numbers and dates are written with the digits 0-9: `int()` and `Decimal()` would read
    full-width or Arabic-Indic digits too, and store a value nobody typed on purpose."""
    text = str(value).strip()
    if not text.isascii():
        raise ValidationFailed.for_field(field, f"{value!r} is not {what}; use the digits 0-9")
    return text


def parse_amount(value: Any, field: str = "amount") -> Decimal | None:
    if value is None or (isinstance(value, str) and value.strip() == ""):
        return None
    amount = None if isinstance(value, bool) else _finite_decimal(_ascii_text(value, field, "a number"))
    if amount is None:
        raise ValidationFailed.for_field(field, f"{value!r} is not a number")
    if amount < 0:
        raise ValidationFailed.for_field(field, "cannot be negative")
    if amount >= Decimal("1e12"):
        raise ValidationFailed.for_field(field, "is too large (at most 999,999,999,999.99)")
    return amount.quantize(Decimal("0.01"))


def parse_date(value: Any, field: str) -> dt.date | None:
    """A calendar date as YYYY-MM-DD (or a date) between EARLIEST_DATE and LATEST_DATE.

    A number is never a date: 0 would be 1970-01-01 to one reader and a typo to everyone else."""
    if value is None or value == "":
        return None
    if isinstance(value, dt.datetime):
        value = value.date()
    if not isinstance(value, dt.date):
        text = _ascii_text(value, field, "a date") if isinstance(value, str) else ""
        if isinstance(value, (bool, int, float, Decimal)) or not ISO_DATE.fullmatch(text):
            raise ValidationFailed.for_field(field, f"{value!r} is not a date; use YYYY-MM-DD")
        try:
            value = dt.date.fromisoformat(text)
        except ValueError:
            raise ValidationFailed.for_field(field, f"{value!r} is not a date; use YYYY-MM-DD") from None
    if not EARLIEST_DATE <= value <= LATEST_DATE:
        raise ValidationFailed.for_field(field, f"{value.isoformat()} is outside {EARLIEST_DATE.isoformat()} "
                                                f"to {LATEST_DATE.isoformat()}")
    return value


def parse_probability(value: Any, field: str = "probability_override") -> int | None:
    if value is None or value == "":
        return None
    if isinstance(value, (float, Decimal)) and not (value.is_finite() if isinstance(value, Decimal) else math.isfinite(value)):
        raise ValidationFailed.for_field(field, f"{value!r} is not a whole number")
    if isinstance(value, bool) or (isinstance(value, (float, Decimal)) and value != int(value)):
        raise ValidationFailed.for_field(field, f"{value!r} is not a whole number")
    try:
        number = int(_ascii_text(value, field, "a whole number") if isinstance(value, str) else value)
    except (TypeError, ValueError, OverflowError):
        raise ValidationFailed.for_field(field, f"{value!r} is not a whole number") from None
    if not 0 <= number <= 100:
        raise ValidationFailed.for_field(field, "must be between 0 and 100")
    return number


def _choice(value: Any, choices: Any, field: str) -> str:
    if value not in choices.values:
        raise ValidationFailed.for_field(field, f"{value!r} is not one of {', '.join(choices.values)}")
    return value


def parse_currency(value: Any, field: str = "currency") -> str:
    """An ISO 4217 code in any case ("usd" -> "USD"); empty means the company's currency."""
    code = str(value or settings.DEALGATE_CURRENCY).strip().upper()
    if len(code) != 3 or not code.isascii() or not code.isalpha():
        raise ValidationFailed.for_field(field, f"{value!r} is not a three-letter currency code")
    if not is_currency_code(code):
        raise ValidationFailed.for_field(field, f"{code!r} is not an ISO 4217 currency code (e.g. EUR, USD, GBP)")
    return code


def _text(value: Any, field: str, *, max_length: int, required: bool = False) -> str:
    text = storable_text(value, field).strip()
    if required and not text:
        raise ValidationFailed.for_field(field, "is required")
    if len(text) > max_length:
        raise ValidationFailed.for_field(field, f"is longer than {max_length} characters")
    return text


def _require_edit(by: Any, deal: Deal) -> None:
    if by is not None and not can_edit_deal(by, deal):
        raise NotAllowed(f"{by} may not change deal {deal.pk} ({deal.title}).", details={"deal": deal.pk})


def _lock(deal: Deal, *, rules_version: bool = False) -> Deal:
    """Re-read the deal under a row lock (PostgreSQL) / the write lock (SQLite, IMMEDIATE).

    The locking query reads the deal table alone. With a join (select_related), PostgreSQL
    re-checks the join against the *old* stage row after waiting for a concurrent move, finds
    no match and returns nothing: the second of two simultaneous moves then saw "deal does not
    exist" instead of a conflict. It would also lock the stage and pipeline rows, queueing every
    move in the pipeline behind one another. Stage and pipeline load on first use instead.

    rules_version: also read the pipeline's rules version (a subquery, not a join) as
    `locked.rules_version`, saving a move the round trip of reading it on its own.
    """
    deals = Deal.objects.select_for_update()
    if rules_version:
        deals = deals.annotate(rules_version=Subquery(
            RulesVersion.objects.filter(pk=OuterRef("pipeline_id")).values("version")[:1]))
    try:
        return deals.get(pk=deal.pk)
    except Deal.DoesNotExist:
        raise NotFound(f"Deal {deal.pk} does not exist.") from None


def _bump(locked: Deal, original: Deal, fields: Iterable[str]) -> None:
    """Save the locked copy and mirror the change onto the caller's instance."""
    locked.version += 1
    names = [*fields, "version"]
    locked.save(update_fields=names)
    for name in names:
        setattr(original, name, getattr(locked, name))


def _history_row(deal: Deal, from_stage: Stage | None, to_stage: Stage, kind: str, *, at: dt.datetime, by: Any,
                 override_reason: str = "", imported: bool = False) -> StageHistory:
    return StageHistory(
        deal=deal, from_stage=from_stage, to_stage=to_stage, kind=kind, at=at, by=by,
        amount=deal.amount, currency=deal.currency, probability=deal.effective_probability,
        override=bool(override_reason), override_reason=override_reason, imported=imported,
    )


# ---------------------------------------------------------------------------------------------
# Accounts and contacts


def _email(value: Any) -> str:
    email = _text(value, "email", max_length=254)
    if email and ("@" not in email or email.startswith("@") or email.endswith("@")):
        raise ValidationFailed.for_field("email", f"{email!r} is not an e-mail address")
    return email


def _field(name: str, max_length: int, required: bool = False) -> Any:
    return lambda value: _text(value, name, max_length=max_length, required=required)


# The fields a directory entry's update may change, each with its check.
DIRECTORY_FIELDS: dict[str, dict[str, Any]] = {
    "account": {"name": _field("name", 200, required=True), "segment": _field("segment", 50)},
    "contact": {"name": _field("name", 200, required=True), "account": lambda account: account, "email": _email,
                "phone": _field("phone", 50), "title": _field("title", 100)},
}


def create_account(*, by: Any, name: str, segment: str = "", owner: Any = None, external_id: str | None = None) -> Account:
    if external_id and Account.objects.filter(external_id=external_id).exists():
        raise Conflict(f"An account with external id {external_id!r} already exists.",
                       details={"external_id": external_id})
    checks = DIRECTORY_FIELDS["account"]
    with transaction.atomic():
        account = Account.objects.create(
            name=checks["name"](name), segment=checks["segment"](segment),
            owner=owner if owner is not None else by,
            external_id=external_id or None,
        )
        record(account, "created", by=by)
    return account


def create_contact(*, by: Any, name: str, account: Account | None = None, email: str = "", phone: str = "",
                   title: str = "") -> Contact:
    checks = DIRECTORY_FIELDS["contact"]
    with transaction.atomic():
        contact = Contact.objects.create(
            account=account, name=checks["name"](name), email=checks["email"](email),
            phone=checks["phone"](phone), title=checks["title"](title),
        )
        record(contact, "created", by=by)
    return contact


# ---------------------------------------------------------------------------------------------
# Deals


def first_open_stage(pipeline: Pipeline) -> Stage:
    stage = pipeline.stages.filter(kind=StageKind.OPEN, retired_at__isnull=True).order_by("position").first()
    if stage is None:
        raise ValidationFailed.for_field("pipeline", f"pipeline {pipeline.key!r} has no open stage")
    return stage


@transaction.atomic
def create_deal(
    *, by: Any, title: str, account: Account, pipeline: Pipeline, owner: Any = None, amount: Any = None,
    currency: str | None = None, expected_close_date: Any = None, source: str = Source.OUTBOUND,
    forecast_category: str = ForecastCategory.PIPELINE, next_step: str = "", next_step_due: Any = None,
    custom_fields: dict | None = None, external_id: str | None = None, stage: Stage | str | None = None,
) -> Deal:
    """A new deal starts in the pipeline's first open stage; later stages are reached through gates.

    `stage` asks for a later open stage: the deal is created in the first one and moved there by
    `move_deal` in the same transaction, so it meets the criteria of every stage it passes (as a
    deal created there and dragged across would). A refusal (MoveBlocked, with the unmet criteria)
    leaves nothing behind.
    """
    owner = owner if owner is not None else by
    if owner is None:
        raise ValidationFailed.for_field("owner", "a deal needs an owner")
    if account is None:
        raise ValidationFailed.for_field("account", "a deal needs an account")
    step_due = parse_date(next_step_due, "next_step_due")
    if _text(next_step, "next_step", max_length=300) and step_due is None:
        raise ValidationFailed.for_field("next_step_due", "a next step needs a due date")
    if external_id and Deal.objects.filter(external_id=external_id).exists():
        raise Conflict(f"A deal with external id {external_id!r} already exists.", details={"external_id": external_id})
    now = timezone.now()
    deal = Deal(
        title=_text(title, "title", max_length=200, required=True), account=account, owner=owner,
        team_id=team_id_of(owner), pipeline=pipeline, stage=first_open_stage(pipeline),
        amount=parse_amount(amount), currency=parse_currency(currency),
        expected_close_date=parse_date(expected_close_date, "expected_close_date"),
        source=_choice(source, Source, "source"),
        forecast_category=_choice(forecast_category, ForecastCategory, "forecast_category"),
        next_step=_text(next_step, "next_step", max_length=300),
        next_step_due=step_due,
        custom_fields=typed_custom_fields(custom_fields) if custom_fields else {}, external_id=external_id or None,
        created_at=now, stage_entered_at=now,
    )
    if not can_create_deal_for(by, owner):
        raise NotAllowed("A sales rep can only create deals they own.")
    deal.save()
    created = _history_row(deal, None, deal.stage, MoveKind.CREATED, at=now, by=by)
    created.save()
    record(deal, "created", by=by, field="stage", after=deal.stage.name, at=now)
    deal_event("created", deal.pk, f"history:{created.pk}")
    if stage is not None:
        _start_in(deal, stage, by=by)
    return deal


# The typed fields of a new deal, each with the check `create_deal` applies to it.
NEW_DEAL_TEXT_FIELDS: dict[str, Any] = {
    "title": lambda v: _text(v, "title", max_length=200, required=True),
    "amount": parse_amount,
    "currency": parse_currency,
    "expected_close_date": lambda v: parse_date(v, "expected_close_date"),
    "next_step": lambda v: _text(v, "next_step", max_length=300),
    "next_step_due": lambda v: parse_date(v, "next_step_due"),
}


def new_deal_field_errors(values: dict[str, Any]) -> dict[str, list[str]]:
    """Every message `create_deal` could give about these typed fields, gathered at once (a form
    shows them all together; the service itself stops at the first)."""
    errors: dict[str, list[str]] = {}
    for name, value in values.items():
        try:
            NEW_DEAL_TEXT_FIELDS[name](value)
        except ValidationFailed as exc:
            errors.update(exc.details)
    if str(values.get("next_step") or "").strip() and not str(values.get("next_step_due") or "").strip():
        errors.setdefault("next_step_due", ["a next step needs a due date"])
    return errors


def _start_in(deal: Deal, stage: Stage | str, *, by: Any) -> None:
    """Move a deal just created in the first open stage on to `stage`, through the gates."""
    target = resolve_stage(deal.pipeline, stage)
    if target.kind != StageKind.OPEN:
        raise ValidationFailed.for_field(
            "stage", f"a new deal starts in an open stage, not in {target.name}; create it, then close it")
    if target.pk == deal.stage_id:
        return
    try:
        move_deal(deal, target, by=by)
    except MoveBlocked as exc:
        raise MoveBlocked(
            f"{deal.title} cannot start in {target.name}: {plural(len(exc.unmet), 'criterion', 'criteria')} not met.",
            unmet=exc.unmet, deal_id=None, to_stage=target.key,
        ) from None


def unmet_criteria(deal: Deal, to_stage: Stage, rules: PipelineRules | None = None) -> list[dict[str, Any]]:
    """What stands between a deal and a stage, without moving it (used by the UI before a drop)."""
    if to_stage.pipeline_id != deal.pipeline_id:
        raise ValidationFailed.for_field("stage", f"stage {to_stage.name!r} is not in this deal's pipeline")
    rules = rules or PipelineRules.load(deal.pipeline_id)
    specs = required_criteria(deal, to_stage, rules)
    if not specs:
        return []
    facts = load_facts([deal.pk], deals=[deal], kinds={spec.kind for spec in specs})[deal.pk]
    return [r.as_dict() for r in evaluate(specs, facts) if not r.met]


def required_criteria(deal: Deal, to_stage: Stage, rules: PipelineRules) -> list[Any]:
    """The criteria (met or not) between a deal and a stage; a closed deal starts where it closed."""
    current = rules.stages[deal.stage_id]
    return rules.required(current, to_stage, reopened_from=_closed_from(deal) if current.is_closed else None)


def _closed_from(deal: Deal) -> Stage | None:
    """The open stage a closed deal was in when it closed: its latest move out of an open stage."""
    row = (StageHistory.objects.filter(deal_id=deal.pk, from_stage__kind=StageKind.OPEN)
           .select_related("from_stage").order_by("-at", "-id").first())
    return row.from_stage if row else None


def move_deal(
    deal: Deal, to_stage: Stage | str, *, by: Any, override_reason: str | None = None,
    lost_reason: LostReason | str | None = None, lost_note: str = "", expected_stage: Stage | None = None,
) -> StageHistory:
    """Move a deal through its pipeline's gates; the one path for board, page, API, CLI and rules.

    Raises MoveBlocked (listing every unmet criterion) when the gates do not hold and no override
    is given, Conflict when someone moved the deal first, NotAllowed for a missing permission.
    """
    for field, text in (("override_reason", override_reason), ("lost_reason", lost_reason), ("lost_note", lost_note)):
        if isinstance(text, str):
            storable_text(text, field)  # a NUL byte is refused with a message, on every path that moves
    with transaction.atomic():
        locked = _lock(deal, rules_version=True)
        _require_edit(by, locked)
        if isinstance(to_stage, Stage) and to_stage.pipeline_id == locked.pipeline_id:
            target = to_stage  # already resolved: no need to load the pipeline
        else:
            target = resolve_stage(locked.pipeline, to_stage)
        if expected_stage is not None and locked.stage_id != expected_stage.pk:
            raise Conflict(
                f"Deal {locked.pk} is now in {locked.stage.name}, not {expected_stage.name}: someone moved it. "
                "Reload and try again.",
                details={"deal": locked.pk, "current_stage": locked.stage.key},
            )
        if target.kind == StageKind.POST:
            raise ValidationFailed.for_field(
                "stage", f"{target.name} is a post-sale phase, not a stage a deal moves to: win the deal, and its "
                         f"{target.name} checklist shows on the won deal")
        if target.is_retired and locked.stage_id != target.pk:
            raise ValidationFailed.for_field(
                "stage", f"{target.name} is retired: it takes no deals. Choose another stage, or restore "
                         f"{target.name} in the pipeline's settings first")
        if locked.stage_id == target.pk:
            raise Conflict(f"Deal {locked.pk} is already in {target.name}.",
                           details={"deal": locked.pk, "current_stage": target.key})
        # the history row keeps it whole (500 characters), on every path: the API's schema says so too
        reason_text = _text(override_reason or "", "override_reason", max_length=500)
        rules = PipelineRules.load(locked.pipeline_id, version=locked.rules_version)
        from_stage = rules.stages[locked.stage_id]
        kind = rules.direction(from_stage, target)
        lost = None
        if kind == "lost":
            lost = _resolve_lost_reason(lost_reason)
        unmet = unmet_criteria(locked, target, rules)
        if unmet and not reason_text:
            raise MoveBlocked(
                f"{locked.title} cannot move to {target.name}: {plural(len(unmet), 'criterion', 'criteria')} not met.",
                unmet=unmet, deal_id=locked.pk, to_stage=target.key,
            )
        if reason_text and not unmet:
            reason_text = ""  # nothing to override; do not mark the history as forced
        if reason_text and not can_override(by):
            raise NotAllowed("Only a manager or admin may override unmet criteria.",
                             details={"unmet": unmet})
        now = timezone.now()
        locked.stage = target
        locked.stage_entered_at = now
        changed = ["stage", "stage_entered_at"]
        if kind in ("won", "lost"):
            locked.closed_at = now
            locked.lost_reason = lost
            locked.lost_note = _text(lost_note, "lost_note", max_length=300) if lost else ""
            changed += ["closed_at", "lost_reason", "lost_note"]
        elif locked.closed_at is not None:  # reopened
            locked.closed_at, locked.lost_reason, locked.lost_note = None, None, ""
            changed += ["closed_at", "lost_reason", "lost_note"]
        _bump(locked, deal, changed)
        deal.stage = target
        row = _history_row(locked, from_stage, target, kind, at=now, by=by, override_reason=reason_text)
        row.save()
        record(locked, MOVE_ACTIONS.get(kind, "moved"), by=by, field="stage", before=from_stage.name,
               after=target.name, at=now, note=_move_note(reason_text, lost, locked.lost_note))
        deal_event("moved", locked.pk, f"history:{row.pk}")
        return row


# How a move reads in the audit log (stage history keeps the finer kind: forward, backward...).
MOVE_ACTIONS = {"won": "won", "lost": "lost", "reopened": "reopened"}


def _move_note(override_reason: str, lost: LostReason | None, lost_note: str) -> str:
    if override_reason:
        return f"override: {override_reason}"
    if lost is not None:
        return f"lost reason: {lost.label}" + (f" ({lost_note})" if lost_note else "")
    return ""


HANDOFF_MAX_LENGTH = 10_000


def move_deal_with_handoff(deal: Deal, to_stage: Stage | str, *, by: Any, handoff: str = "",
                           **move: Any) -> StageHistory:
    """Move a deal and, on a move to Won, keep the handoff note: both or neither.

    The note is checked before anything is written, and the move and the note's activity share
    one transaction: a note too long used to be refused after the move had committed, losing the
    note and answering the retry with "already in Won".
    """
    note = _text(handoff, "handoff", max_length=HANDOFF_MAX_LENGTH)
    with transaction.atomic():
        row = move_deal(deal, to_stage, by=by, **move)
        if note and row.to_stage.kind == StageKind.WON:
            log_activity(by=by, kind="note", subject="Handoff", notes=note, deal=deal)
    return row


def resolve_stage(pipeline: Pipeline, stage: Stage | str) -> Stage:
    if isinstance(stage, Stage):
        if stage.pipeline_id != pipeline.pk:
            raise ValidationFailed.for_field("stage", f"stage {stage.name!r} is not in pipeline {pipeline.name!r}")
        return stage
    wanted = str(stage).strip()
    found = Stage.objects.filter(pipeline=pipeline).filter(key=wanted).first() or _named(
        Stage.objects.filter(pipeline=pipeline), "name", wanted)
    if found is None:
        names = ", ".join(pipeline.stages.values_list("key", flat=True))
        raise NotFound(f"No stage {wanted!r} in pipeline {pipeline.key!r}; stages are: {names}.",
                       details={"stage": wanted, "pipeline": pipeline.key})
    return found


def _named(rows: Any, field: str, wanted: str) -> Any:
    """The row whose `field` equals `wanted` ignoring case. Compared in Python over a handful of rows,
    because SQLite's LIKE (behind __iexact) fails on a very long pattern instead of matching nothing."""
    wanted = wanted.strip().casefold()
    return next((row for row in rows if getattr(row, field).casefold() == wanted), None)


def _resolve_lost_reason(value: LostReason | str | None) -> LostReason:
    if isinstance(value, LostReason):
        if not value.active:
            raise ValidationFailed.for_field("lost_reason", f"{value.key!r} is no longer in use; pick an active reason")
        return value
    if not value or not str(value).strip():
        choices = ", ".join(LostReason.objects.filter(active=True).values_list("key", flat=True))
        raise ValidationFailed.for_field("lost_reason", f"a deal moved to Lost needs a reason: one of {choices}")
    found = LostReason.objects.filter(active=True, key=str(value).strip()).first() or _named(
        LostReason.objects.filter(active=True), "label", str(value))
    if found is None:
        choices = ", ".join(LostReason.objects.filter(active=True).values_list("key", flat=True))
        raise ValidationFailed.for_field("lost_reason", f"{value!r} is not a lost reason; use one of {choices}")
    return found


TRACKED_FIELDS = ("amount", "expected_close_date", "currency", "probability_override", "forecast_category")


def update_deal(deal: Deal, *, by: Any, **changes: Any) -> Deal:
    """Change a deal's fields. Amount and close-date changes are logged; a later close date is a slip."""
    parsers = {
        "title": lambda v: _text(v, "title", max_length=200, required=True),
        "amount": parse_amount,
        "currency": parse_currency,
        "expected_close_date": lambda v: parse_date(v, "expected_close_date"),
        "probability_override": parse_probability,
        "forecast_category": lambda v: _choice(v, ForecastCategory, "forecast_category"),
        "source": lambda v: _choice(v, Source, "source"),
        "custom_fields": lambda v: typed_custom_fields(v),
    }
    unknown = set(changes) - set(parsers)
    if unknown:
        raise ValidationFailed(f"Unknown or read-only fields: {', '.join(sorted(unknown))}.",
                               details={name: ["cannot be changed here"] for name in sorted(unknown)})
    values = {name: parsers[name](value) for name, value in changes.items()}
    with transaction.atomic():
        locked = _lock(deal)
        _require_edit(by, locked)
        now = timezone.now()
        changed, logged, audited = [], [], []
        for name, value in values.items():
            old = getattr(locked, name)
            if old == value:
                continue
            if name in TRACKED_FIELDS:
                logged.append(FieldChange(deal=locked, field=name, old_value="" if old is None else str(old),
                                          new_value="" if value is None else str(value), at=now, by=by))
            if name == "expected_close_date" and old is not None and value is not None and value > old:
                locked.close_date_slips += 1
                changed.append("close_date_slips")
            audited.append((name, old, value))
            setattr(locked, name, value)
            changed.append(name)
        FieldChange.objects.bulk_create(logged)  # one insert, one refresh of the deal's state spans
        record_changes(locked, audited, by=by, at=now)
        if changed:
            _bump(locked, deal, changed)
    return deal


def typed_custom_fields(value: Any) -> dict:
    """Check custom fields against their declared type and store each in its JSON shape.

    Typed values let `field` criteria compare them: a number field holds a number, a yes/no field
    true or false, a date field YYYY-MM-DD. Blank clears a field.
    """
    from dealgate.pipelines.models import CustomField

    if not isinstance(value, dict):
        raise ValidationFailed.for_field("custom_fields", "must be an object of key: value")
    types = dict(CustomField.objects.values_list("key", "type"))
    unknown = sorted(set(value) - set(types))
    if unknown:
        raise ValidationFailed.for_field("custom_fields", f"unknown custom field(s): {', '.join(unknown)}")
    return {key: _custom_value(key, types[key], raw) for key, raw in value.items()}


_YES, _NO = {"true", "yes", "on", "1"}, {"false", "no", "off", "0"}


def _custom_value(key: str, kind: str, raw: Any) -> Any:
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return None
    if kind == "boolean":
        word = str(raw).strip().lower()
        if isinstance(raw, bool) or word in _YES | _NO:
            return raw if isinstance(raw, bool) else word in _YES
        raise ValidationFailed.for_field("custom_fields", f"{key}: {raw!r} is not yes or no")
    if kind == "number":
        number = None if isinstance(raw, bool) else _finite_decimal(raw)
        if number is None:
            raise ValidationFailed.for_field("custom_fields", f"{key}: {raw!r} is not a number")
        return int(number) if number == number.to_integral_value() else float(number)
    try:
        return parse_date(raw, key).isoformat() if kind == "date" else _text(raw, key, max_length=500)
    except ValidationFailed as exc:  # one error key for the whole dict, as the other checks use
        raise ValidationFailed.for_field("custom_fields", exc.message) from None


def _finite_decimal(raw: Any) -> Decimal | None:
    text = str(raw).strip()
    if not text.isascii():  # Decimal() reads full-width digits; nobody types those on purpose
        return None
    try:
        number = Decimal(text.replace(",", ""))
    except InvalidOperation:
        return None
    return number if number.is_finite() else None


def set_next_step(deal: Deal, *, by: Any, text: str, due: Any) -> Deal:
    text = _text(text, "next_step", max_length=300)
    due_date = parse_date(due, "next_step_due")
    if text and due_date is None:
        raise ValidationFailed.for_field("next_step_due", "a next step needs a due date")
    with transaction.atomic():
        locked = _lock(deal)
        _require_edit(by, locked)
        before = [("next_step", locked.next_step), ("next_step_due", locked.next_step_due)]
        locked.next_step, locked.next_step_due = text, due_date if text else None
        _bump(locked, deal, ["next_step", "next_step_due"])
        record_changes(locked, [(name, old, getattr(locked, name)) for name, old in before], by=by)
    return deal


def reassign_deal(deal: Deal, new_owner: Any, *, by: Any) -> Deal:
    with transaction.atomic():
        locked = _lock(deal)
        _require_edit(by, locked)
        if by is not None and role_of(by) == "rep":
            raise NotAllowed("Only a manager or admin may reassign a deal.")
        if locked.owner_id == new_owner.pk:
            return deal
        now, new_team = timezone.now(), team_id_of(new_owner)
        logged = []
        if locked.team_id != new_team:  # logged too, so analytics can cut by team as of a date
            logged.append(FieldChange(deal=locked, field="team", old_value=str(locked.team_id or ""),
                                      new_value=str(new_team or ""), at=now, by=by))
        logged.append(FieldChange(deal=locked, field="owner", old_value=str(locked.owner_id),
                                  new_value=str(new_owner.pk), at=now, by=by))
        FieldChange.objects.bulk_create(logged)  # one insert, one refresh of the deal's state spans
        record_changes(locked, [("owner", locked.owner, new_owner), ("team", locked.team, _team_by_id(new_team))],
                       by=by, at=now)
        locked.owner = new_owner
        locked.team_id = new_team
        _bump(locked, deal, ["owner", "team"])
        deal_event("assigned", locked.pk, f"owner:v{locked.version}")
    return deal


def _team_by_id(team_id: int | None) -> Any:
    """The team row, for the audit log's readable before/after of a reassignment."""
    from dealgate.people.models import Team

    return Team.objects.filter(pk=team_id).first() if team_id else None


def log_activity(
    *, by: Any, kind: str, subject: str, deal: Deal | None = None, account: Account | None = None,
    outcome: str = "", notes: str = "", occurred_at: dt.datetime | None = None,
    contacts: Iterable[Contact] = (),
) -> Activity:
    """Record a call, email, meeting, note or task. It never moves a stage, but may satisfy a criterion."""
    kind = _choice(kind, ActivityKind, "kind")
    if deal is None and account is None:
        raise ValidationFailed.for_field("deal", "an activity belongs to a deal or an account")
    when = occurred_at or timezone.now()
    if timezone.is_naive(when):
        raise ValidationFailed.for_field("occurred_at", "needs a time zone")
    with transaction.atomic():
        if deal is not None:
            locked = _lock(deal)
            _require_edit(by, locked)
            if account is not None and account.pk != locked.account_id:
                # Counted on both an account and a deal of another account, the activity would
                # satisfy the deal's criteria with another company's evidence.
                raise ValidationFailed.for_field(
                    "account", f"deal {locked.pk} belongs to account {locked.account_id}, not {account.pk}; "
                               "send the deal's account or leave it out")
            account = locked.account
        activity = Activity.objects.create(
            deal=deal, account=account, kind=kind, subject=_text(subject, "subject", max_length=200, required=True),
            outcome=outcome_key(_text(outcome, "outcome", max_length=50)),
            notes=_text(notes, "notes", max_length=10_000), occurred_at=when, by=by,
        )
        if contacts:
            activity.contacts.set(list(contacts))
        record(deal if deal is not None else account, "activity logged", by=by, field=kind, after=activity.subject)
        if deal is not None and (locked.last_activity_at is None or when > locked.last_activity_at):
            locked.last_activity_at = when
            _bump(locked, deal, ["last_activity_at"])
    return activity


CHECKLIST_ITEM = re.compile(r"[a-z0-9_-]+")


def record_checklist_answer(deal: Deal, item: str, *, by: Any, checked: bool = True, evidence: str = "") -> ChecklistAnswer:
    item = _text(item, "item", max_length=60, required=True)
    if not CHECKLIST_ITEM.fullmatch(item):
        # Criteria name items as slugs; "Budget" would be stored but never satisfy 'budget'.
        raise ValidationFailed.for_field("item", f"{item!r} is not an item key (lowercase letters, digits, - and _)")
    evidence = _text(evidence, "evidence", max_length=500)
    with transaction.atomic():
        locked = _lock(deal)
        _require_edit(by, locked)
        previous = ChecklistAnswer.objects.filter(deal=locked, item=item).first()
        answer, _ = ChecklistAnswer.objects.update_or_create(
            deal=locked, item=item,
            defaults={"checked": checked, "evidence": evidence, "by": by, "at": timezone.now()},
        )
        _bump(locked, deal, [])
        record(locked, "checklist", by=by, field=item, before=_answer_text(previous), after=_answer_text(answer))
    return answer


def _answer_text(answer: ChecklistAnswer | None) -> str:
    if answer is None:
        return ""
    return ("ticked" if answer.checked else "not ticked") + (f": {answer.evidence}" if answer.evidence else "")


def approval_roles(pipeline_id: int, condition: str) -> set[str]:
    """Roles that may confirm a close condition, from the criteria of the deal's pipeline."""
    from dealgate.pipelines.models import Criterion

    roles: set[str] = set()
    for config in Criterion.objects.filter(stage__pipeline_id=pipeline_id, kind="approval").values_list("config", flat=True):
        if config.get("condition") == condition:
            roles.update(config.get("approver_roles") or ["manager", "admin"])
    return roles


def approve_condition(deal: Deal, condition: str, *, by: Any, note: str = "") -> Approval:
    """Confirm a close condition; only users whose role the criterion names may confirm it."""
    condition = _text(condition, "condition", max_length=60, required=True)
    with transaction.atomic():
        locked = _lock(deal)
        if by is not None and not can_view_deal_or_admin(by, locked):
            raise NotAllowed(f"{by} may not act on deal {locked.pk}.")
        roles = approval_roles(locked.pipeline_id, condition)
        if not roles:
            raise NotFound(f"No close condition {condition!r} in pipeline {locked.pipeline.key!r}.",
                           details={"condition": condition})
        if by is not None and role_of(by) not in roles:
            raise NotAllowed(f"'{condition}' can only be confirmed by a {' or '.join(sorted(roles))}.",
                             details={"condition": condition, "approver_roles": sorted(roles)})
        try:
            with transaction.atomic():
                approval = Approval.objects.create(deal=locked, condition=condition, approved_by=by,
                                                   approved_at=timezone.now(), note=_text(note, "note", max_length=300))
        except IntegrityError:
            raise Conflict(f"'{condition}' is already confirmed on deal {locked.pk}.") from None
        _bump(locked, deal, [])
        record(locked, "approved", by=by, field=condition, after="confirmed", note=approval.note)
    return approval


def can_view_deal_or_admin(user: Any, deal: Deal) -> bool:
    from dealgate.people.access import can_view_deal

    return can_view_deal(user, deal)


def link_contact(deal: Deal, contact: Contact, role: str, *, by: Any) -> DealContact:
    role = _choice(role, ContactRole, "role")
    with transaction.atomic():
        locked = _lock(deal)
        _require_edit(by, locked)
        link, created = DealContact.objects.get_or_create(deal=locked, contact=contact, role=role)
        _bump(locked, deal, [])
        if created:
            record(locked, "contact linked", by=by, field=role, after=contact.name)
    return link


def unlink_contact(deal: Deal, contact: Contact, role: str, *, by: Any) -> None:
    with transaction.atomic():
        locked = _lock(deal)
        _require_edit(by, locked)
        removed, _ = DealContact.objects.filter(deal=locked, contact=contact, role=role).delete()
        _bump(locked, deal, [])
        if removed:
            record(locked, "contact unlinked", by=by, field=role, before=contact.name)


# ---------------------------------------------------------------------------------------------
# Account and contact changes. The directory is company-wide (deals are team-scoped, the
# companies and people they are sold to are shared): every user may correct an entry, only
# managers and admins may delete one, and a delete never takes a deal's evidence with it.


def _update_entry(row: Any, changes: dict[str, Any], *, by: Any) -> Any:
    """Check every change first, then write them in one UPDATE and onto the caller's instance."""
    kind = type(row).__name__.lower()
    fields = DIRECTORY_FIELDS[kind]
    unknown = sorted(set(changes) - set(fields))
    if unknown:
        raise ValidationFailed(f"A {kind} has no field(s) {', '.join(unknown)} to change.",
                               details={name: ["is not a field you can change"] for name in unknown})
    values = {name: fields[name](value) for name, value in changes.items()}
    if values:
        with transaction.atomic():
            current = type(row).objects.select_for_update().filter(pk=row.pk).first()
            if current is None:
                raise NotFound(f"No {kind} {row.pk}.", details={kind: row.pk})
            type(row).objects.filter(pk=row.pk).update(**values)
            changes = [(name, getattr(current, name), value) for name, value in values.items()]
            for name, value in values.items():
                setattr(current, name, value)  # the entry names the object as it is now called
            record_changes(current, changes, by=by)
        for name, value in values.items():
            setattr(row, name, value)
    return row


def _delete_unused_entry(row: Any, *, by: Any, deals_using: Any, unused_how: str) -> None:
    """Delete a directory entry under a row lock, unless `deals_using(pk)` counts deals on it.

    The lock conflicts with the key-share lock a concurrent deal or link insert takes on the row,
    so a deal created meanwhile is counted, not orphaned."""
    from dealgate.people.models import Role

    kind = type(row).__name__.lower()
    if by is not None and role_of(by) not in (Role.MANAGER, Role.ADMIN):
        raise NotAllowed(f"Only managers and admins may delete {kind}s.")
    with transaction.atomic():
        locked = type(row).objects.select_for_update().filter(pk=row.pk).first()
        if locked is None:
            raise NotFound(f"No {kind} {row.pk}.", details={kind: row.pk})
        deals = deals_using(locked.pk)
        if deals:
            raise Conflict(f"{kind.capitalize()} {locked.pk} ({locked.name}) is used by {deals} deal(s); {unused_how} "
                           "first.", details={kind: locked.pk, "deals": deals})
        record(locked, "deleted", by=by)
        locked.delete()


def update_account(account: Account, *, by: Any, **changes: Any) -> Account:
    """Change an account's name and/or segment (any user: the directory is shared)."""
    return _update_entry(account, changes, by=by)


def delete_account(account: Account, *, by: Any) -> None:
    """Managers and admins remove an account that no deal points at (e.g. a duplicate).

    Refused while deals use it: they carry history that analytics reads. Its contacts stay in the
    directory without an account; activities logged on the account alone go with it."""
    _delete_unused_entry(account, by=by, deals_using=lambda pk: Deal.objects.filter(account_id=pk).count(),
                         unused_how="move them to another account")


def update_contact(contact: Contact, *, by: Any, **changes: Any) -> Contact:
    """Change a contact's fields; `account=None` detaches them from their account."""
    return _update_entry(contact, changes, by=by)


def delete_contact(contact: Contact, *, by: Any) -> None:
    """Managers and admins remove a contact who plays no role on any deal.

    Refused while linked to deals: a contact's role (champion, economic buyer...) is evidence that
    stage criteria were checked against; unlink them from those deals first."""
    _delete_unused_entry(
        contact, by=by, unused_how="unlink them",
        deals_using=lambda pk: DealContact.objects.filter(contact_id=pk).values("deal_id").distinct().count())
