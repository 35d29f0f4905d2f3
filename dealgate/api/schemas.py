"""Request and response shapes of the REST API (they become the OpenAPI document).

Text inputs refuse NUL characters in the schema itself (PostgreSQL cannot store them), so a
client sees the rule in the OpenAPI document instead of discovering it by a refusal.
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from typing import Annotated, Any, ClassVar, Literal

from ninja import Field, Schema
from ninja.schema import DjangoGetter
from pydantic import (
    AfterValidator,
    AwareDatetime,
    BeforeValidator,
    ConfigDict,
    ValidationError,
    WithJsonSchema,
    model_validator,
)
from pydantic_core import InitErrorDetails, PydanticCustomError

from dealgate.deals.currencies import is_currency_code
from dealgate.deals.services import EARLIEST_DATE, ISO_DATE, LATEST_DATE
from dealgate.pipelines.models import CriterionKind, Phase

Text = Annotated[str, Field(pattern=r"^[^\x00]*$")]
Key = Annotated[str, Field(min_length=1, max_length=60, pattern=r"^[A-Za-z0-9_-]+$")]

# An amount as the schema says and the API reads it: a JSON number, or a string of the digits
# 0-9 with at most two decimals. Not "", "1e3", "１２" or true (null clears an amount).
MONEY_TEXT = r"^[0-9]{1,12}(\.[0-9]{1,2})?$"


def _money(value: Any) -> Any:
    if isinstance(value, bool) or (isinstance(value, str) and not re.fullmatch(MONEY_TEXT, value)):
        raise PydanticCustomError("amount_format", "an amount is a number, or a string of digits with at most two "
                                                   "decimals such as \"1250.50\"; null clears it")
    return value


Money = Annotated[Decimal, BeforeValidator(_money), Field(ge=0, lt=Decimal("1e12"), max_digits=14, decimal_places=2),
                  WithJsonSchema({"anyOf": [{"type": "number", "minimum": 0, "exclusiveMaximum": 1e12},
                                            {"type": "string", "pattern": MONEY_TEXT}]})]


def _iso_4217(value: str) -> str:
    if not is_currency_code(value.upper()):
        raise PydanticCustomError("currency_code", "{code} is not an ISO 4217 currency code (e.g. EUR, USD, GBP)",
                                  {"code": repr(value)})
    return value


Currency = Annotated[str, Field(pattern=r"^[A-Za-z]{3}$", description="ISO 4217 code, e.g. EUR (any case)."),
                     AfterValidator(_iso_4217)]


def _iso_day(value: Any) -> Any:
    """A date is "YYYY-MM-DD" in the digits 0-9: never a number (0 would be 1970-01-01), never a time."""
    if not isinstance(value, dt.date) and not (isinstance(value, str) and ISO_DATE.fullmatch(value)):
        raise PydanticCustomError("date_format", "a date is written YYYY-MM-DD, e.g. \"2026-03-31\"")
    return value


def _iso_moment(value: Any) -> Any:
    """A time is an ISO 8601 string with a time zone, never a number of seconds since 1970."""
    if not isinstance(value, dt.datetime) and not (
            isinstance(value, str) and value.isascii() and ISO_DATE.match(value) and len(value) > 10):
        raise PydanticCustomError("datetime_format", "a time is written YYYY-MM-DDTHH:MM:SS with a time zone, "
                                                     "e.g. \"2026-03-31T14:30:00+02:00\"")
    return value


# Dates far outside a sales horizon only ever come from typos or fuzzers: the services' range, so
# the web, CLI, imports and API refuse the same dates.
Day = Annotated[dt.date, BeforeValidator(_iso_day), Field(ge=EARLIEST_DATE, le=LATEST_DATE)]
Moment = Annotated[AwareDatetime, BeforeValidator(_iso_moment),
                   Field(ge=dt.datetime.combine(EARLIEST_DATE, dt.time(), dt.timezone.utc) + dt.timedelta(days=1),
                         le=dt.datetime.combine(LATEST_DATE, dt.time(), dt.timezone.utc) - dt.timedelta(days=1))]
ForecastCategoryName = Literal["pipeline", "best_case", "commit", "omitted"]
SourceName = Literal["inbound", "outbound", "signal", "referral", "existing_account"]
RoleName = Literal["champion", "economic_buyer", "decision_maker", "influencer", "user", "blocker"]
ActivityKindName = Literal["call", "email", "meeting", "note", "task"]


class ErrorOut(Schema):
    """Every error: a stable machine code, a sentence for people, and structured details."""

    code: str = Field(examples=["move_blocked"])
    message: str
    details: dict[str, Any] = Field(default_factory=dict)


class InputSchema(Schema):
    """A request body: a JSON object with only the fields its schema lists.

    A field the API does not take is refused by name instead of silently dropped, so a client
    never reads 200 for a change that was not made. `changed_elsewhere` says where a field a
    client may reasonably send here is changed instead (a deal's stage: the move endpoint).
    """

    model_config = ConfigDict(extra="forbid")
    changed_elsewhere: ClassVar[dict[str, str]] = {}

    @model_validator(mode="before")
    @classmethod
    def _refuse_what_is_not_taken(cls, values: Any) -> Any:
        if isinstance(values, (DjangoGetter, Schema)):  # ninja's second pass over a checked object
            return values
        if not isinstance(values, dict):
            raise PydanticCustomError("object_expected", "the body must be a JSON object of field: value, not {kind}",
                                      {"kind": _json_kind(values)})
        unknown = [name for name in values if name not in cls.model_fields]
        if unknown:
            taken = ", ".join(cls.model_fields)
            raise ValidationError.from_exception_data(cls.__name__, [
                InitErrorDetails(type=PydanticCustomError("field_not_taken", "{why}", {
                    "why": cls.changed_elsewhere.get(name) or f"is not a field of this request; it takes {taken}"}),
                    loc=(name,), input=values[name])
                for name in unknown])
        return values


def _json_kind(value: Any) -> str:
    kinds = {list: "an array", str: "a string", bool: "true or false", int: "a number", float: "a number"}
    return "null" if value is None else kinds.get(type(value), type(value).__name__)


class UserRef(Schema):
    id: int
    username: str
    name: str

    @staticmethod
    def resolve_name(user: Any) -> str:
        return user.get_full_name() or user.username


class AccountRef(Schema):
    id: int
    name: str


# -- pipelines -------------------------------------------------------------------------------


class CriterionOut(Schema):
    key: str
    label: str
    kind: str
    phase: str
    config: dict[str, Any]


class StageOut(Schema):
    key: str
    name: str
    position: int
    kind: Literal["open", "won", "lost", "post"]
    probability: int
    goal: str
    exit_question: str
    guidance: str
    rot_days: int | None
    retired: bool = Field(description="Retired: off the board and out of moves and new deals, kept in history "
                                      "and analytics (decision 036).")
    criteria: list[CriterionOut]

    @staticmethod
    def resolve_retired(stage: Any) -> bool:
        return stage.retired_at is not None

    @staticmethod
    def resolve_criteria(stage: Any) -> list[Any]:
        return list(stage.criteria.all())


class PipelineOut(Schema):
    key: str
    name: str
    template: str
    business_days: bool
    single_threaded_from: int | None
    stages: list[StageOut]

    @staticmethod
    def resolve_stages(pipeline: Any) -> list[Any]:
        return list(pipeline.stages.all())


class PipelineCreateIn(InputSchema):
    template: Key
    key: Annotated[str, Field(min_length=1, max_length=50, pattern=r"^[A-Za-z0-9_-]+$")] | None = None
    name: Annotated[Text, Field(max_length=100)] | None = None


class PipelineUpdateIn(InputSchema):
    """Send only the fields to change; `"single_threaded_from": null` turns the rule off.

    Ranges and lengths are checked by the same service the Settings page uses, not here.
    """

    name: Text | None = None
    business_days: bool | None = None
    single_threaded_from: int | None = Field(
        None, description="Flag a deal with only one contact from this stage position on (1-100); null: never.")


class StageUpdateIn(InputSchema):
    """Send only the fields to change; `"rot_days": null` removes the idle limit. Won stays 100%, lost 0%."""

    name: Text | None = None
    probability: int | None = Field(None, description="Default win probability, 0-100.")
    rot_days: int | None = Field(None, description="Idle days before a deal is stale (1-3650); null: never.")
    exit_question: Text | None = None
    goal: Text | None = None
    guidance: Text | None = None


class StageCreateIn(InputSchema):
    """A new open stage, with no criteria yet; the stages after it move one place down."""

    name: Annotated[Text, Field(max_length=100)]
    probability: int = Field(description="Default win probability, 0-99.")
    after: Key | None = Field(None, description="The key of the open stage to add it after; default: the last open stage.")
    key: Key | None = Field(None, description="Default: made from the name.")


class StageRetireIn(InputSchema):
    move_deals_to: Key | None = Field(None, description="Key of the open stage to move the stage's open deals to, "
                                                        "through its gates; required while deals are in it.")
    override_reason: Annotated[Text, Field(max_length=500)] | None = Field(
        None, description="Force the moves the gates refuse, recorded as overrides with this reason.")


class StageOrderIn(InputSchema):
    stages: list[Key] = Field(description="Every open stage's key once (retired ones too), in the new order.",
                              max_length=200)


class StageMoveIn(InputSchema):
    direction: Literal["up", "down"] = Field(description="up: one place earlier; down: one place later.")


def _no_nul(value: Any) -> Any:
    """PostgreSQL's jsonb cannot store a NUL character either, at any depth of a JSON value."""
    if isinstance(value, str) and "\x00" in value:
        raise ValueError("must not contain NUL characters")
    items = [*value.keys(), *value.values()] if isinstance(value, dict) else value if isinstance(value, list) else []
    for item in items:
        _no_nul(item)
    return value


JsonObject = Annotated[dict[str, Any], AfterValidator(_no_nul)]

# The choices come from the models, so the document cannot drift from what the services accept.
PhaseName = Literal[tuple(Phase.values)]  # type: ignore[valid-type]
CriterionKindName = Literal[tuple(CriterionKind.values)]  # type: ignore[valid-type]


class CriterionIn(InputSchema):
    phase: PhaseName
    key: Key
    label: Text
    kind: CriterionKindName
    config: JsonObject = Field(default_factory=dict, description="Checked against the kind, as in Settings.")


class CriterionUpdateIn(InputSchema):
    """Send only the fields to change; a new `config` is checked against the criterion's kind."""

    label: Text | None = None
    config: JsonObject | None = None


class LostReasonOut(Schema):
    key: str
    label: str


# -- deals -----------------------------------------------------------------------------------


class StageRef(Schema):
    key: str
    name: str
    kind: Literal["open", "won", "lost", "post"]


class DealOut(Schema):
    id: int
    title: str
    account: AccountRef
    owner: UserRef
    team_id: int | None
    pipeline: str = Field(description="Pipeline key.")
    stage: StageRef
    status: Literal["open", "won", "lost"]
    amount: str | None = Field(description="Decimal as a string, e.g. \"12000.00\".")
    currency: str
    probability: int = Field(description="Effective win probability: the override, else the stage's.")
    probability_override: int | None
    expected_close_date: dt.date | None
    close_date_slips: int
    forecast_category: ForecastCategoryName
    source: SourceName
    next_step: str
    next_step_due: dt.date | None
    created_at: dt.datetime
    stage_entered_at: dt.datetime
    last_activity_at: dt.datetime | None
    closed_at: dt.datetime | None
    lost_reason: str | None
    lost_note: str
    custom_fields: dict[str, Any]
    version: int

    @staticmethod
    def resolve_pipeline(deal: Any) -> str:
        return deal.pipeline.key

    @staticmethod
    def resolve_status(deal: Any) -> str:
        return deal.stage.kind

    @staticmethod
    def resolve_amount(deal: Any) -> str | None:
        return None if deal.amount is None else str(deal.amount)

    @staticmethod
    def resolve_probability(deal: Any) -> int:
        return deal.effective_probability

    @staticmethod
    def resolve_lost_reason(deal: Any) -> str | None:
        return deal.lost_reason.key if deal.lost_reason_id else None


class DealChangedOut(DealOut):
    """A deal as a PATCH saved it, and whether the caller can still see it."""

    visible: bool = Field(description="false when the change (a reassignment to another team) took the deal out of "
                                      "what you can see: it was saved, and further calls on it answer 404.")
    notice: str | None = Field(description="Says what happened when `visible` is false; null otherwise.")


class DealPage(Schema):
    items: list[DealOut]
    next_cursor: str | None = Field(description="Pass as `cursor` to get the next page; null on the last page.")


# Ids arriving from clients: bounded to the database's 64-bit range, so a huge number is a 422, not a crash.
RowId = Annotated[int, Field(ge=1, le=2**63 - 1)]


# Where the fields of a deal that its PATCH does not take are changed instead.
MOVED_ONLY = ("is changed by moving the deal through the stage gates: POST /api/deals/{id}/move "
              "with {\"stage\": ...}")
DEAL_FIELDS_ELSEWHERE = {
    **dict.fromkeys(("stage", "status", "closed_at", "stage_entered_at", "lost_reason", "lost_note"), MOVED_ONLY),
    **dict.fromkeys(("next_step", "next_step_due"), "is set with PUT /api/deals/{id}/next-step"),
    "probability": "is the stage's probability unless overridden: send probability_override (0-100, null: none)",
    **dict.fromkeys(("team", "team_id"), "follows the owner: send owner to reassign the deal"),
    **dict.fromkeys(("account", "pipeline"), "cannot change once the deal exists"),
    **dict.fromkeys(("id", "version", "created_at", "last_activity_at", "close_date_slips"), "is read-only"),
}


class DealCreateIn(InputSchema):
    changed_elsewhere = {
        "status": "a new deal is open; win or lose it with POST /api/deals/{id}/move",
        **{name: "is read-only" for name in ("id", "version", "created_at", "last_activity_at", "close_date_slips",
                                             "probability", "team", "team_id")},
    }

    title: Annotated[Text, Field(min_length=1, max_length=200)]
    account: RowId = Field(description="Account id.")
    pipeline: Key = Field(description="Pipeline key.")
    owner: Annotated[Text, Field(max_length=150)] | None = Field(
        None, description="Owner's username; defaults to the caller. Reps can only own their deals.")
    amount: Money | None = None
    currency: Currency | None = None
    expected_close_date: Day | None = None
    source: SourceName = "outbound"
    forecast_category: ForecastCategoryName = "pipeline"
    next_step: Annotated[Text, Field(max_length=300)] = ""
    next_step_due: Day | None = None
    custom_fields: dict[str, Any] | None = None
    stage: Key | None = Field(
        None, description="Stage key to start in; default the first open stage. A later open stage applies its "
                          "gates as a move from the first stage would: refused with 409 `move_blocked` and the "
                          "unmet criteria, nothing created.")


class DealUpdateIn(InputSchema):
    """Send only the fields to change. `owner` reassigns the deal (managers and admins).

    Any other field is refused by name (422), e.g. `stage`, which only a move changes."""

    changed_elsewhere = DEAL_FIELDS_ELSEWHERE

    title: Annotated[Text, Field(min_length=1, max_length=200)] | None = None
    amount: Money | None = None
    currency: Currency | None = None
    expected_close_date: Day | None = None
    probability_override: Annotated[int, Field(ge=0, le=100)] | None = None
    forecast_category: ForecastCategoryName | None = None
    source: SourceName | None = None
    custom_fields: dict[str, Any] | None = None
    owner: Annotated[Text, Field(max_length=150)] | None = None


class MoveIn(InputSchema):
    stage: Key = Field(description="Target stage key (or name).")
    override_reason: Annotated[Text, Field(max_length=500)] | None = Field(
        None, description="Force a blocked move (managers and admins); recorded in the history.")
    lost_reason: Key | None = Field(None, description="Required when moving to a lost stage.")
    lost_note: Annotated[Text, Field(max_length=300)] = ""
    expected_stage: Key | None = Field(
        None, description="The stage you saw the deal in; if someone moved it since, the answer is 409 conflict.")


class UnmetOut(Schema):
    key: str
    label: str
    kind: str
    missing: str
    stage: str
    phase: str


class StageHistoryOut(Schema):
    id: int
    deal: int
    from_stage: str | None
    to_stage: str
    kind: str
    at: dt.datetime
    by: str | None
    amount: str | None
    currency: str
    probability: int
    override: bool
    override_reason: str
    imported: bool

    @staticmethod
    def resolve_deal(row: Any) -> int:
        return row.deal_id

    @staticmethod
    def resolve_from_stage(row: Any) -> str | None:
        return row.from_stage.key if row.from_stage_id else None

    @staticmethod
    def resolve_to_stage(row: Any) -> str:
        return row.to_stage.key

    @staticmethod
    def resolve_by(row: Any) -> str | None:
        return row.by.username if row.by_id else None

    @staticmethod
    def resolve_amount(row: Any) -> str | None:
        return None if row.amount is None else str(row.amount)


class FieldChangeOut(Schema):
    field: str
    old_value: str
    new_value: str
    at: dt.datetime
    by: str | None

    @staticmethod
    def resolve_by(row: Any) -> str | None:
        return row.by.username if row.by_id else None


class HistoryOut(Schema):
    stages: list[StageHistoryOut]
    field_changes: list[FieldChangeOut]


class NextStepIn(InputSchema):
    text: Annotated[Text, Field(max_length=300)] = Field(description="Empty text clears the next step.")
    due: Day | None = None


class NextStepOut(Schema):
    text: str
    due: dt.date | None


# -- contacts on a deal, checklist, approvals ------------------------------------------------


class DealContactIn(InputSchema):
    contact: RowId = Field(description="Contact id.")
    role: RoleName


class DealContactOut(Schema):
    contact: int
    name: str
    role: RoleName

    @staticmethod
    def resolve_contact(link: Any) -> int:
        return link.contact_id

    @staticmethod
    def resolve_name(link: Any) -> str:
        return link.contact.name


class ChecklistIn(InputSchema):
    checked: bool = True
    evidence: Annotated[Text, Field(max_length=500)] = ""


class ChecklistOut(Schema):
    item: str
    checked: bool
    evidence: str
    by: str | None
    at: dt.datetime

    @staticmethod
    def resolve_by(row: Any) -> str | None:
        return row.by.username if row.by_id else None


class ApprovalIn(InputSchema):
    condition: Key
    note: Annotated[Text, Field(max_length=300)] = ""


class ApprovalOut(Schema):
    condition: str
    approved_by: str | None
    approved_at: dt.datetime
    note: str

    @staticmethod
    def resolve_approved_by(row: Any) -> str | None:
        return row.approved_by.username if row.approved_by_id else None


# -- accounts, contacts, activities ----------------------------------------------------------


class AccountOut(Schema):
    id: int
    name: str
    segment: str
    owner: UserRef | None
    created_at: dt.datetime


class AccountPage(Schema):
    items: list[AccountOut]
    next_cursor: str | None


class AccountIn(InputSchema):
    name: Annotated[Text, Field(min_length=1, max_length=200)]
    segment: Annotated[Text, Field(max_length=50)] = ""


class AccountUpdateIn(InputSchema):
    """Send only the fields to change."""

    name: Annotated[Text, Field(min_length=1, max_length=200)] | None = None
    segment: Annotated[Text, Field(max_length=50)] | None = None


class ContactOut(Schema):
    id: int
    account: int | None
    name: str
    email: str
    phone: str
    title: str

    @staticmethod
    def resolve_account(contact: Any) -> int | None:
        return contact.account_id


class ContactPage(Schema):
    items: list[ContactOut]
    next_cursor: str | None


class ContactIn(InputSchema):
    name: Annotated[Text, Field(min_length=1, max_length=200)]
    account: int | None = None
    email: Annotated[Text, Field(max_length=254)] = ""
    phone: Annotated[Text, Field(max_length=50)] = ""
    title: Annotated[Text, Field(max_length=100)] = ""


class ContactUpdateIn(InputSchema):
    """Send only the fields to change; `"account": null` detaches the contact from their account."""

    name: Annotated[Text, Field(min_length=1, max_length=200)] | None = None
    account: RowId | None = None
    email: Annotated[Text, Field(max_length=254)] | None = None
    phone: Annotated[Text, Field(max_length=50)] | None = None
    title: Annotated[Text, Field(max_length=100)] | None = None


class ActivityOut(Schema):
    id: int
    deal: int | None
    account: int | None
    kind: ActivityKindName
    subject: str
    outcome: str
    notes: str
    occurred_at: dt.datetime
    by: str | None
    contacts: list[int]

    @staticmethod
    def resolve_deal(row: Any) -> int | None:
        return row.deal_id

    @staticmethod
    def resolve_account(row: Any) -> int | None:
        return row.account_id

    @staticmethod
    def resolve_by(row: Any) -> str | None:
        return row.by.username if row.by_id else None

    @staticmethod
    def resolve_contacts(row: Any) -> list[int]:
        return [c.pk for c in row.contacts.all()]


class ActivityPage(Schema):
    items: list[ActivityOut]
    next_cursor: str | None


class ActivityIn(InputSchema):
    kind: ActivityKindName
    subject: Annotated[Text, Field(min_length=1, max_length=200)]
    deal: RowId | None = Field(None, description="Deal id; an activity needs a deal or an account.")
    account: RowId | None = Field(None, description="Account id.")
    outcome: Annotated[Text, Field(max_length=50)] = Field("", description="e.g. held, replied, no_show.")
    notes: Annotated[Text, Field(max_length=10_000)] = ""
    occurred_at: Moment | None = Field(None, description="With a time zone; defaults to now.")
    contacts: list[RowId] = Field(default_factory=list, max_length=50)


# -- personal API tokens ---------------------------------------------------------------------


class TokenIn(InputSchema):
    name: Annotated[Text, Field(min_length=1, max_length=100)]


class TokenOut(Schema):
    id: int
    name: str
    prefix: str
    created_at: dt.datetime
    last_used_at: dt.datetime | None
    revoked_at: dt.datetime | None


class TokenCreatedOut(TokenOut):
    token: str = Field(description="The secret. Shown in this answer only: Dealgate keeps just its hash.")


# -- flags -----------------------------------------------------------------------------------


class FlagOut(Schema):
    code: str = Field(examples=["stale"], description=(
        "stale (quiet past the stage's limit with no next step planned, or in the stage longer than 9 in 10 past "
        "stays: the label and reason say which), waiting, no_next_step, next_step_overdue, close_date_passed, "
        "slipped, missing_criteria, single_threaded"))
    label: str
    reason: str
    since: dt.date | None
    severity: Literal["alarm", "warning", "info"]


class CriterionResultOut(Schema):
    key: str
    label: str
    kind: str
    met: bool
    missing: str
    stage: str
    phase: str


class CriteriaProgressOut(Schema):
    met: int
    total: int
    results: list[CriterionResultOut]
    next_stage: str = Field("", description="The stage these criteria lead to: the next open stage, or Won "
                            "from the last one (\"\" for a closed deal).")


class DealFlagsOut(Schema):
    flags: list[FlagOut] = Field(description="Most severe first; empty for a closed deal.")
    criteria: CriteriaProgressOut = Field(description="Criteria of the next move met so far: this stage's exit "
                                           "criteria and the next stage's entry criteria.")


# -- analytics (read-only; the numbers of `dealgate report` / `dealgate forecast --json`) -------

AmountText = Annotated[str, Field(description="Decimal as a string, e.g. \"12000.00\".")]
PeriodText = Annotated[str, Field(pattern=r"^[12][0-9]{3}(-[Qq][1-4]|-[0-9]{2})?$",
                                  description="2026-Q3 (quarter), 2026-09 (month) or 2026 (year).")]


class AnalyticsFilters(Schema):
    """Which deals and which moment a figure is about; always narrowed to what the caller may see."""

    period: PeriodText | None = Field(None, description="Default: the quarter containing `as_of`.")
    as_of: Day | None = Field(None, description="Only what was recorded by the end of this day (UTC). Default: now.")
    pipeline: Key | None = Field(None, description="Pipeline key. Default: every pipeline.")
    owner: Annotated[str, Field(max_length=150, pattern=r"^[^\x00]*$")] | None = Field(
        None, description="Owner's username.")
    team: Annotated[str, Field(max_length=100, pattern=r"^[^\x00]*$")] | None = Field(None, description="Team name.")
    source: SourceName | None = None
    segment: Annotated[str, Field(max_length=100, pattern=r"^[^\x00]*$")] | None = Field(
        None, description="Account segment.")
    currency: Currency | None = Field(None, description="Only deals in this currency. Default: the company's.")


class PeriodMetricsOut(Schema):
    won: int
    lost: int
    won_amount: AmountText
    lost_amount: AmountText
    win_rate: float | None = Field(description="0-1; null when nothing closed.")
    avg_deal_size: AmountText | None
    cycle_mean_days: float | None
    cycle_median_days: float | None
    open_deals: int
    pipeline: AmountText
    weighted_pipeline: AmountText
    pipeline_due: AmountText = Field(description="Open pipeline expected to close by the period end.")
    quota: AmountText | None
    velocity_per_day: float | None
    coverage: float | None
    coverage_verdict: str
    attainment: float | None = Field(description="Won amount / quota (0.8 = 80%); null without a quota.")


class LeftOutOut(Schema):
    currency: str
    deals: int


LEFT_OUT = Field(description="Deals left out because they are in another currency that has no exchange rate, most "
                             "first: ask for their currency to see them.")
CONVERTED = Field(default_factory=list,
                  description="Deals in other currencies counted after conversion with the dated exchange rates "
                              "(settings): open deals at the as-of date's rate, closed ones at their close date's.")


class MetricsOut(Schema):
    period: str
    as_of: dt.datetime
    currency: str
    left_out: list[LeftOutOut] = LEFT_OUT
    converted: list[LeftOutOut] = CONVERTED
    metrics: PeriodMetricsOut


class RangeCalibrationOut(Schema):
    widen: float = Field(description="Log spread of the extra lognormal factor (mean 1) on what is not won yet.")
    periods: int = Field(description="Past windows judged (6 at most; fewer than 3: no widening).")
    error: float | None = Field(description="Root mean square of ln(won / forecast) over those windows.")
    model: float | None = Field(description="Root mean square of the model's own spread over them.")


class ForecastMethodOut(Schema):
    expected: AmountText = Field(description="already_won + from_open + from_new.")
    already_won: AmountText | None = None
    from_open: AmountText | None = Field(None, description="Expected from the deals open at the as-of instant.")
    from_new: AmountText | None = Field(None, description="Expected from deals not created yet (new_business).")
    open_deals: int | None = None
    p10: AmountText | None = None
    p50: AmountText | None = None
    p90: AmountText | None = None
    calibration: RangeCalibrationOut | None = Field(
        None, description="Time-aware only: how the range was widened by the pipeline's own past errors.")


class ForecastCategoryOut(Schema):
    id: int | None = Field(description="Owner's user id.")
    name: str
    won: AmountText
    commit: AmountText
    best_case: AmountText
    pipeline: AmountText
    omitted: AmountText
    commit_call: AmountText
    best_case_call: AmountText
    model: AmountText
    quota: AmountText | None
    attainment: float | None = Field(description="Won / quota (0.8 = 80%); null without a quota.")


class StageProbabilityOut(Schema):
    stage_id: int
    stage: str
    configured: float
    closed: int
    won: int
    raw: float | None
    learned: float


class NewBusinessOut(Schema):
    expected: float = Field(description="Expected won in the period from deals created after the as-of instant.")
    days: float = Field(description="Days from the as-of instant to the period end.")
    deals: float = Field(description="New deals expected from the as-of instant to the period end.")
    per_day: float = Field(description="New deals a day (the last 90 days).")
    win_share: float = Field(description="Share of the past year's new deals won within `days` of creation.")
    variance: float
    spread: float = Field(description="Relative spread of the rate and value estimates (the range's shared factor).")
    learned_from: int = Field(description="Deals created in the look-back year.")
    rate_factor: float = Field(1.0, description="Season and trend factor on per_day (0.5-2).")
    rate_basis: str = Field("none", description="season (same days a year earlier), trend or none.")


class CloseDatesOut(Schema):
    undated: int = Field(description="Open deals without an expected close date known at the as-of instant.")
    undated_due: int = Field(description="Of them, due in the period by their stage's typical remaining time.")
    unknown: int = Field(description="Of them, left out: no deal of their stage closed in the look-back year.")


class ForecastOut(Schema):
    period: str
    as_of: dt.datetime
    currency: str
    left_out: list[LeftOutOut] = LEFT_OUT
    converted: list[LeftOutOut] = CONVERTED
    methods: dict[Literal["weighted", "historical", "time-aware"], ForecastMethodOut]
    new_business: NewBusinessOut
    close_dates: CloseDatesOut
    categories: list[ForecastCategoryOut]
    probabilities: list[StageProbabilityOut]


class BottleneckStageOut(Schema):
    stage_id: int
    stage: str
    retired: bool = Field(False, description="The stage is retired (decision 036); `stage` then ends in \"(retired)\".")
    pipeline: str
    position: int
    configured_probability: int
    entered: int
    advanced: int
    conversion: float | None
    closed: int
    won: int
    stage_to_win: float | None
    stays: int
    median_days: float | None
    p75_days: float | None
    p90_days: float | None
    open_age_median: float | None
    open_deals: int
    open_amount: AmountText
    window_days: int = Field(description="Conversion is compared at the same age: within this many days of entry.")
    aged_entered: int = Field(description="Deals that entered the stage this period at least window_days before.")
    aged_advanced: int
    aged_conversion: float | None = Field(description="Share of aged_entered that moved on within window_days.")
    trailing_conversion: float | None = Field(description="The same share in the trailing span.")
    trailing_entered: int
    trailing_median_days: float | None
    conversion_change: float | None
    median_change_days: float | None
    open_share: float | None


class BottlenecksOut(Schema):
    period: str
    as_of: dt.datetime
    currency: str
    left_out: list[LeftOutOut] = LEFT_OUT
    converted: list[LeftOutOut] = CONVERTED
    trailing: str = Field(description="The span the stages are compared with.")
    window_days: int = Field(description="Days after entering a stage over which conversion is compared.")
    sentences: list[str]
    stages: list[BottleneckStageOut]


class SignalConversionPeriodOut(Schema):
    period: str
    raised: int = Field(description="Signals raised in the period (before `as_of`).")
    converted: int
    dismissed: int
    decided: int = Field(description="converted + dismissed")
    open: int = Field(description="Raised and still new or snoozed.")
    rate: float | None = Field(description="converted / decided, 0-1; null when none was decided.")
    converted_revenue: AmountText = Field(description="The revenue of the converted signals.")


class SignalConversionOut(Schema):
    period: str
    as_of: dt.datetime
    currency: str
    periods: list[SignalConversionPeriodOut] = Field(description="Oldest first; the last is `period`.")


class AuditEntryOut(Schema):
    id: int
    at: dt.datetime
    by: str | None = Field(description="Username of who made the change; null for the system.")
    surface: str = Field(description="web, api, cli, import, automation, admin or system.")
    object_type: str
    object_id: int
    object_name: str = Field(description="The object's name when the change was made.")
    action: str
    field: str
    before: str
    after: str
    note: str

    @staticmethod
    def resolve_by(entry: Any) -> str | None:
        return entry.by.username if entry.by_id else None


class AuditPage(Schema):
    items: list[AuditEntryOut]
    next_cursor: str | None
