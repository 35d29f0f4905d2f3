"""The criteria engine: one small evaluator for every kind of stage criterion.

A criterion is a kind plus a JSON config (see `CONFIG_SCHEMAS`). Evaluation is a pure function
of a deal's facts (`DealFacts`), which `load_facts` gathers for many deals in a fixed number of
queries, so a whole board can be evaluated without one query per card.
"""

from __future__ import annotations

import datetime as dt
import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any, Iterable, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator

from dealgate.errors import DealgateError

# Built-in deal fields a `field` criterion may name; custom fields are `custom.<key>`.
DEAL_FIELDS: dict[str, str] = {
    "amount": "number",
    "currency": "text",
    "expected_close_date": "date",
    "probability_override": "number",
    "forecast_category": "text",
    "source": "text",
    "next_step": "text",
    "next_step_due": "date",
    "account": "ref",
    "title": "text",
}

FieldOp = Literal["set", "true", "eq", "in", "gt", "gte", "lt", "lte"]
ACTIVITY_KINDS = ("call", "email", "meeting", "note", "task")
CONTACT_ROLES = ("champion", "economic_buyer", "decision_maker", "influencer", "user", "blocker")


class CriterionConfigError(DealgateError, ValueError):
    """A criterion config that cannot be evaluated; the message says which part and why."""

    code = "bad_criterion_config"
    http_status = 500  # the pipeline's configuration is broken, not the request


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class FieldConfig(_Strict):
    field: str
    op: FieldOp = "set"
    # validate_default: the operator check below must also run when no value was given.
    value: Any = Field(default=None, validate_default=True)

    @field_validator("field")
    @classmethod
    def _known_field(cls, name: str) -> str:
        if name.startswith("custom."):
            if len(name) <= len("custom."):
                raise ValueError("'custom.' must be followed by the custom field's key")
            return name
        if name not in DEAL_FIELDS:
            known = ", ".join(sorted(DEAL_FIELDS))
            raise ValueError(f"unknown deal field {name!r}; use one of {known}, or custom.<key>")
        return name

    @field_validator("value")
    @classmethod
    def _value_fits_operator(cls, value: Any, info: ValidationInfo) -> Any:
        """Checked on `value` (not the whole model) so the error message names the field."""
        op = info.data.get("op")
        if op in ("gt", "gte", "lt", "lte", "eq") and value is None:
            raise ValueError(f"operator {op!r} needs a value")
        if op == "in" and not isinstance(value, list):
            raise ValueError("operator 'in' needs a list of values")
        if op in ("gt", "gte", "lt", "lte") and _number(value) is None:
            raise ValueError(f"operator {op!r} needs a finite number, not {value!r}")
        return value


class ChecklistConfig(_Strict):
    item: str = Field(min_length=1, max_length=60, pattern=r"^[a-z0-9_-]+$")
    group: str = ""
    require_evidence: bool = True


def outcome_key(text: str | None) -> str:
    """The spelling activities are stored and matched under: lower case, runs of spaces, tabs, hyphens and
    underscores as one "_" ("No  Show", "no-show", " no_show " -> "no_show"); "" for none."""
    return "_".join(re.split(r"[\s_-]+", str(text or "").strip().lower())).strip("_")


class ActivityConfig(_Strict):
    activity: Literal["call", "email", "meeting", "note", "task"]
    outcome: str | None = Field(default=None, max_length=50)
    scope: Literal["stage", "ever"] = "stage"
    min_count: int = Field(default=1, ge=1, le=100)

    @field_validator("outcome")
    @classmethod
    def _tidy_outcome(cls, outcome: str | None) -> str | None:
        """Kept as typed ("No show") for the criterion's words, outer spaces off; matched by `key`. Blank, or
        nothing but separators, means any outcome."""
        outcome = " ".join((outcome or "").split())
        return outcome if outcome_key(outcome) else None

    @property
    def key(self) -> str | None:
        """The outcome as activities store it ("No show" -> "no_show"), or None for any outcome."""
        return outcome_key(self.outcome) or None


class ContactRoleConfig(_Strict):
    role: Literal["champion", "economic_buyer", "decision_maker", "influencer", "user", "blocker"] | None = None
    min_count: int = Field(default=1, ge=1, le=100)


class ApprovalConfig(_Strict):
    condition: str = Field(min_length=1, max_length=60, pattern=r"^[a-z0-9_-]+$")
    approver_roles: list[Literal["rep", "manager", "admin"]] = Field(
        default_factory=lambda: ["manager", "admin"], min_length=1
    )


CONFIG_SCHEMAS: dict[str, type[_Strict]] = {
    "field": FieldConfig,
    "checklist": ChecklistConfig,
    "activity": ActivityConfig,
    "contact_role": ContactRoleConfig,
    "approval": ApprovalConfig,
}


def parse_config(kind: str, config: Any) -> _Strict:
    """Validate a criterion config, raising CriterionConfigError with a readable message."""
    schema = CONFIG_SCHEMAS.get(kind)
    if schema is None:
        raise CriterionConfigError(f"unknown criterion kind {kind!r}; use one of {', '.join(CONFIG_SCHEMAS)}")
    if not isinstance(config, dict):
        raise CriterionConfigError(f"a {kind} criterion's config must be a JSON object, not {type(config).__name__}")
    try:
        return schema.model_validate(config)
    except ValidationError as exc:
        problems = []
        by_part: dict[str, list[str]] = {}
        for err in exc.errors():
            where = ".".join(str(p) for p in err["loc"]) or "config"
            msg = err["msg"].removeprefix("Value error, ")
            problems.append(f"{where}: {msg}")
            by_part.setdefault(where, []).append(msg)
        # details: the messages by part of the config, so a form can show each next to its input.
        raise CriterionConfigError(f"{kind} criterion: " + "; ".join(problems), details=by_part) from None


@dataclass(frozen=True)
class CriterionSpec:
    """A criterion as the engine sees it, detached from the database row."""

    key: str
    label: str
    kind: str
    config: _Strict
    stage_name: str = ""
    phase: str = "exit"

    @classmethod
    def from_row(cls, row: Any, stage_name: str = "") -> "CriterionSpec":
        return cls(row.key, row.label, row.kind, parse_config(row.kind, row.config), stage_name, row.phase)


@dataclass
class DealFacts:
    """Everything the engine needs to know about one deal."""

    fields: dict[str, Any]
    stage_entered_at: dt.datetime
    checklist: dict[str, str] = field(default_factory=dict)  # ticked item -> evidence
    approvals: set[str] = field(default_factory=set)
    # One (kind, outcome, when) per activity. With `load_facts(group_activities=True)`, `when` is the
    # latest date of the activity's group (same kind and outcome, same side of stage entry): exact for
    # the one thing the engine asks of a date, logged in this stage or before it.
    activities: list[tuple[str, str, dt.datetime]] = field(default_factory=list)
    contact_roles: Counter = field(default_factory=Counter)  # role -> number of contacts
    contact_count: int = 0


@dataclass(frozen=True)
class Result:
    key: str
    label: str
    kind: str
    met: bool
    missing: str  # empty when met
    stage: str = ""
    phase: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {"key": self.key, "label": self.label, "kind": self.kind, "missing": self.missing,
                "stage": self.stage, "phase": self.phase}


def _number(value: Any) -> Decimal | None:
    """A finite number, or None for anything else (booleans, text, NaN and infinity included)."""
    if value is None or isinstance(value, bool):
        return None
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation:
        return None
    return number if number.is_finite() else None


def _same(actual: Any, expected: Any) -> bool:
    """Numbers compare by value (amount 1200.00 equals 1200); everything else by its text."""
    left, right = _number(actual), _number(expected)
    if left is not None and right is not None:
        return left == right
    return _as_text(actual) == _as_text(expected)


def _as_text(value: Any) -> str:
    return ("true" if value else "false") if isinstance(value, bool) else str(value)


def _compare(op: str, actual: Any, expected: Any) -> bool:
    if op == "set":
        return actual is not None and actual not in ("", [], {})
    if op == "true":
        return actual is True
    if actual is None or actual == "":
        return False
    if op == "eq":
        return _same(actual, expected)
    if op == "in":
        return any(_same(actual, option) for option in expected)
    left, right = _number(actual), _number(expected)
    if left is None or right is None:
        return False
    return {"gt": left > right, "gte": left >= right, "lt": left < right, "lte": left <= right}[op]


_OP_WORDS = {"gt": "greater than", "gte": "at least", "lt": "less than", "lte": "at most", "eq": "equal to"}


def _field_missing(cfg: FieldConfig, actual: Any) -> str:
    name = cfg.field.removeprefix("custom.").replace("_", " ")
    if cfg.op == "set":
        return f"{name} is not filled in"
    if cfg.op == "true":
        return f"{name} is not ticked"
    shown = "empty" if actual is None or actual == "" else _as_text(actual)
    if cfg.op == "in":
        return f"{name} is {shown}; needs one of {', '.join(map(_as_text, cfg.value))}"
    return f"{name} is {shown}; needs {_OP_WORDS[cfg.op]} {cfg.value}"


# What an activity with a given outcome is called in a person's words: (singular, plural).
_ACTIVITY_WORDS = {
    ("email", "replied"): ("a reply to an email from the buyer", "replies to emails from the buyer"),
    ("email", "sent"): ("an email sent to the buyer", "emails sent to the buyer"),
    ("meeting", "held"): ("a meeting held with the buyer", "meetings held with the buyer"),
    ("meeting", "no_show"): ("a meeting the buyer missed", "meetings the buyer missed"),
    ("call", "connected"): ("a call that reached the buyer", "calls that reached the buyer"),
    ("call", "no_answer"): ("an unanswered call", "unanswered calls"),
    ("call", "left_voicemail"): ("a call with a voicemail left", "calls with a voicemail left"),
    ("task", "done"): ("a finished task", "finished tasks"),
}


def _a_or_number(count: int, word: str) -> str:
    return (("an" if word[0] in "aeiou" else "a") if count == 1 else str(count)) + f" {word}"


def _count_words(count: int) -> str:
    return "none yet" if count == 0 else f"{count} so far"


def activity_words(activity: str, outcome: str | None, count: int = 1) -> str:
    """'a reply to an email from the buyer', '2 meetings held with the buyer', 'a call marked "busy"'."""
    known = _ACTIVITY_WORDS.get((activity, outcome_key(outcome)))
    if known is not None:
        one, many = known
    else:
        article = "an" if activity[0] in "aeiou" else "a"
        one, many = f"{article} {activity}", f"{activity}s"
        if outcome:
            marked = outcome.replace("_", " ")  # as the admin typed it; "no_show" from older configs reads "no show"
            one, many = f"{one} marked “{marked}”", f"{many} marked “{marked}”"
    return one if count == 1 else f"{count} {many.removeprefix('a ').removeprefix('an ')}"


def evaluate_one(spec: CriterionSpec, facts: DealFacts) -> Result:
    cfg = spec.config
    missing = ""
    if isinstance(cfg, FieldConfig):
        if cfg.field.startswith("custom."):
            actual = (facts.fields.get("custom_fields") or {}).get(cfg.field.removeprefix("custom."))
        else:
            actual = facts.fields.get(cfg.field)
        if not _compare(cfg.op, actual, cfg.value):
            missing = _field_missing(cfg, actual)
    elif isinstance(cfg, ChecklistConfig):
        if cfg.item not in facts.checklist:
            missing = f"“{spec.label}” is not ticked yet"
        elif cfg.require_evidence and not facts.checklist[cfg.item].strip():
            missing = f"“{spec.label}” is ticked but needs a note saying how you know"
    elif isinstance(cfg, ActivityConfig):
        count = sum(
            1
            for kind, outcome, when in facts.activities
            if kind == cfg.activity
            and (cfg.key is None or outcome == cfg.key)
            and (cfg.scope == "ever" or when >= facts.stage_entered_at)
        )
        if count < cfg.min_count:
            when = " in this stage" if cfg.scope == "stage" else ""
            missing = f"Needs {activity_words(cfg.activity, cfg.outcome, cfg.min_count)}{when} ({_count_words(count)})"
    elif isinstance(cfg, ContactRoleConfig):
        have = facts.contact_count if cfg.role is None else facts.contact_roles.get(cfg.role, 0)
        if have < cfg.min_count:
            people = "person" if cfg.min_count == 1 else "people"
            who = (f"{'a' if cfg.min_count == 1 else cfg.min_count} {people} from the buyer's side" if cfg.role is None
                   else _a_or_number(cfg.min_count, cfg.role.replace('_', ' ')) + ("s" if cfg.min_count > 1 else ""))
            missing = f"Needs {who} on the deal ({_count_words(have)})"
    elif isinstance(cfg, ApprovalConfig):
        if cfg.condition not in facts.approvals:
            roles = " or ".join(cfg.approver_roles)
            missing = f"“{spec.label}” is not confirmed yet (a {roles} confirms it)"
    else:  # pragma: no cover - parse_config only builds the classes above
        raise CriterionConfigError(f"no evaluator for {type(cfg).__name__}")
    return Result(spec.key, spec.label, spec.kind, not missing, missing, spec.stage_name, spec.phase)


def evaluate(specs: Iterable[CriterionSpec], facts: DealFacts) -> list[Result]:
    return [evaluate_one(spec, facts) for spec in specs]


FACT_FIELDS = ["id", "stage_entered_at", "custom_fields", *[f if f != "account" else "account_id" for f in DEAL_FIELDS]]


def counted_activities(specs: Iterable[CriterionSpec]) -> set[tuple[str, str | None]]:
    """The (kind, outcome) pairs these criteria count (outcome None: any), for `load_facts(activities=...)`."""
    return {(spec.config.activity, spec.config.key) for spec in specs if isinstance(spec.config, ActivityConfig)}


def _matching(pairs: Iterable[tuple[str, str | None]], prefix: str = "") -> Any:
    """Activities of these (kind, outcome) pairs, as a filter on `prefix` + the activity's fields."""
    from django.db.models import Q

    match = Q(pk__in=[])
    for kind, outcome in pairs:
        match |= Q(**{f"{prefix}kind": kind}, **({f"{prefix}outcome": outcome} if outcome is not None else {}))
    return match


def load_facts(deal_ids: list[int], *, deals: Iterable[Any] = (), kinds: Iterable[str] | None = None,
               group_activities: bool = False,
               activities: Iterable[tuple[str, str | None]] | None = None) -> dict[int, DealFacts]:
    """Gather facts for many deals in five queries, whatever their number.

    `deals`: Deal instances already in hand (e.g. the row a move just locked); their fields are
    used as they are, which saves re-reading them. `kinds`: only the criterion kinds about to be
    evaluated; facts no such criterion reads are left empty, which saves their queries.
    `group_activities`: count the activities in SQL (`_activity_groups`) instead of reading each
    row, for many deals at once (the board). Criteria then decide exactly as on the rows, but only
    against the deals' stored `stage_entered_at`: the dates are each group's latest, so facts
    loaded this way cannot replay another moment (e.g. an earlier stage entry). `activities`: only
    the activities of these (kind, outcome) pairs (`counted_activities` of the criteria about to be
    evaluated, which count no others); None reads them all.
    """
    wanted = set(CONFIG_SCHEMAS if kinds is None else kinds)
    from dealgate.deals.models import Activity, Approval, ChecklistAnswer, Deal, DealContact

    facts: dict[int, DealFacts] = {}
    if not deal_ids:
        return facts
    in_hand = [{name: getattr(deal, name) for name in FACT_FIELDS} for deal in deals if deal.pk in deal_ids]
    missing = set(deal_ids) - {row["id"] for row in in_hand}
    rows = Deal.objects.filter(id__in=missing).values(*FACT_FIELDS) if missing else []
    for row in [*in_hand, *rows]:
        row["account"] = row.pop("account_id")
        facts[row["id"]] = DealFacts(fields=row, stage_entered_at=row["stage_entered_at"])
    if "checklist" in wanted:
        answers = ChecklistAnswer.objects.filter(deal_id__in=deal_ids, checked=True)
        for deal_id, item, evidence in answers.values_list("deal_id", "item", "evidence"):
            facts[deal_id].checklist[item] = evidence
    if "approval" in wanted:
        for deal_id, condition in Approval.objects.filter(deal_id__in=deal_ids).values_list("deal_id", "condition"):
            facts[deal_id].approvals.add(condition)
    if "activity" in wanted:
        if group_activities:
            groups = _activity_groups(deal_ids, None if activities is None else _matching(activities, "activities__"))
        else:
            rows = Activity.objects.filter(deal_id__in=deal_ids)
            rows = (rows if activities is None else rows.filter(_matching(activities))).values_list(
                "deal_id", "kind", "outcome", "occurred_at")
            groups = [(deal_id, kind, outcome, 1, when) for deal_id, kind, outcome, when in rows]
        for deal_id, kind, outcome, count, when in groups:
            facts[deal_id].activities.extend([(kind, outcome, when)] * count)
    contacts: dict[int, set[int]] = defaultdict(set)
    links = DealContact.objects.filter(deal_id__in=deal_ids) if "contact_role" in wanted else DealContact.objects.none()
    for deal_id, contact_id, role in links.values_list("deal_id", "contact_id", "role"):
        facts[deal_id].contact_roles[role] += 1
        contacts[deal_id].add(contact_id)
    for deal_id, ids in contacts.items():
        facts[deal_id].contact_count = len(ids)
    return facts


def _activity_groups(deal_ids: Iterable[int], matching: Any = None) -> list[tuple[int, str, str, int, dt.datetime]]:
    """(deal id, kind, outcome, count, latest date) per group of activities, split at stage entry.

    Grouped in SQL: a board's 200 cards carry thousands of activities, and reading (and, on SQLite,
    parsing the date of) each row costs more than the engine's counting. Splitting each group at the
    deal's stored `stage_entered_at` keeps "in this stage" exact: the latest date of a group lies on
    the same side of stage entry as all of its activities. The query starts from the deals so that
    PostgreSQL looks up only their activities (from the activities it would walk every deal).
    `matching`: a filter on the deals' `activities__` that keeps only the activities it matches.
    """
    from django.db.models import BooleanField, Count, ExpressionWrapper, F, Max, Q

    from dealgate.deals.models import Deal

    in_stage = ExpressionWrapper(Q(activities__occurred_at__gte=F("stage_entered_at")), output_field=BooleanField())
    deals = Deal.objects.filter(id__in=deal_ids)
    rows = (
        (deals if matching is None else deals.filter(matching))
        .annotate(in_stage=in_stage)
        .values("id", "activities__kind", "activities__outcome", "in_stage")
        .annotate(count=Count("activities__kind"), latest=Max("activities__occurred_at"))
        .order_by()
        .values_list("id", "activities__kind", "activities__outcome", "count", "latest")
    )
    return [row for row in rows if row[3]]  # a deal without activities comes back as one empty group
