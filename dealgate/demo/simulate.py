"""How a demo deal lives through its pipeline: a pure simulation that returns plain rows.

Nothing here knows a stage by name. Each stage's behaviour comes from its data: the idle limit
(`rot_days`) sets how long deals stay, the configured probabilities set how many move on, and
the criteria say which facts (checklist answers, approvals, activities, contacts, fields) must
exist before a deal may leave. So the same code fills any pipeline an admin builds, and every
history row it writes is one the gate would have allowed.
"""

from __future__ import annotations

import bisect
import datetime as dt
import math
import random
from array import array
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from dealgate.pipelines.criteria import (
    ActivityConfig,
    ApprovalConfig,
    ChecklistConfig,
    ContactRoleConfig,
    CriterionSpec,
    DealFacts,
    FieldConfig,
    evaluate_one,
)
from dealgate.pipelines.gate import PipelineRules
from dealgate.pipelines.models import Stage, StageKind

from . import words

DAY = dt.timedelta(days=1)
UTC = dt.timezone.utc
DWELL_SIGMA = 0.75  # spread of the lognormal time in stage
NEW_ACCOUNT_SHARE = 0.35  # the rest of the deals go to accounts that already bought or talked to us
STALE_SHARE = 0.45  # of the open deals idle past their stage's limit, how many nobody touched since
EARLY_LOSS_REASONS = ("bad-fit", "no-budget", "went-silent", "timing")
LATE_LOSS_REASONS = ("price", "competitor", "no-decision")


@dataclass(frozen=True)
class StagePlan:
    stage: Stage
    median_days: float
    advance: float  # chance of moving on (rather than being lost) at the end of a stay
    forward: tuple[CriterionSpec, ...]  # what must hold to leave: to the next open stage, or to Won
    exit: tuple[CriterionSpec, ...]  # the stage's own exit criteria (progress of open deals)
    loss_weights: tuple[float, ...]


@dataclass(frozen=True)
class PipelinePlan:
    """A pipeline's stages and criteria turned into simulation parameters."""

    pipeline_id: int
    stages: tuple[StagePlan, ...]  # open stages in order
    won: Stage | None
    lost: Stage | None
    bottleneck: int  # the stage that slows down and converts worse as the year goes on
    expected_cycle_days: float
    offers: tuple[str, ...]

    @classmethod
    def build(cls, pipeline: Any, rules: PipelineRules, loss_keys: list[str], rng: random.Random) -> "PipelinePlan":
        open_stages = [s for s in rules.stages.values() if s.kind == StageKind.OPEN]
        won = next((s for s in rules.stages.values() if s.kind == StageKind.WON), None)
        lost = next((s for s in rules.stages.values() if s.kind == StageKind.LOST), None)
        plans = []
        for i, stage in enumerate(open_stages):
            later = open_stages[i + 1] if i + 1 < len(open_stages) else won
            later_probability = later.probability if later is not None else 100
            # A stage's probability is the chance to win from it, so the share that moves on follows
            # the ratio to the next stage's. The team does better than configured early on (about one
            # deal in four is won), so the learned probabilities give a manager something to adopt.
            ratio = stage.probability / later_probability if stage.probability and later_probability else 0.5
            advance = min(0.97, max(0.3, ratio ** 0.6 * math.exp(rng.gauss(0, 0.08))))
            forward = list(rules.exit[stage.id])
            if later is not None:
                forward += [spec for spec in rules.required(stage, later) if spec not in forward]
            lateness = i / max(1, len(open_stages) - 1)
            weights = tuple(
                1 + 2 * (1 - lateness) if key in EARLY_LOSS_REASONS else 1 + 2 * lateness if key in LATE_LOSS_REASONS else 1
                for key in loss_keys
            )
            plans.append(StagePlan(stage, max(1.5, 0.65 * (stage.rot_days or 14)), advance, tuple(forward),
                                   tuple(rules.exit[stage.id]), weights))
        bottleneck = rng.randrange(1, len(plans) - 1) if len(plans) > 2 else 0
        offers = words.DISTRIBUTOR_OFFERS if pipeline.template.startswith("distributor") else words.OFFERS
        return cls(pipeline.pk, tuple(plans), won, lost, bottleneck,
                   1.2 * sum(p.median_days for p in plans), offers)


@dataclass(frozen=True)
class TeamPlan:
    """Who sells in a team, how well, and in which segments; `manager_id` confirms close conditions."""

    team_id: int
    share: float
    rep_ids: tuple[int, ...]
    rep_team_ids: tuple[int | None, ...]
    skills: tuple[float, ...]
    manager_id: int
    admin_id: int
    segments: tuple[tuple[str, int], ...]
    pipeline: PipelinePlan


@dataclass
class DealStory:
    """One deal and every row that tells its story; ids are filled in by the generator."""

    account: int  # index into the AccountBook
    deal: dict[str, Any]
    history: list[tuple] = field(default_factory=list)  # kind, from_stage_id, to_stage_id, at, by_id, amount, prob
    activities: list[tuple] = field(default_factory=list)  # kind, subject, outcome, at, by_id
    checklist: dict[str, tuple] = field(default_factory=dict)  # item -> (evidence, by_id, at)
    approvals: dict[str, tuple] = field(default_factory=dict)  # condition -> (by_id, at, note)
    contacts: dict[tuple[int, str], None] = field(default_factory=dict)  # (slot, role), ordered
    changes: list[tuple] = field(default_factory=list)  # field, old, new, at, by_id
    stale: bool = False


_COMBINATIONS = len(words.COMPANY_PREFIXES) * len(words.COMPANY_TRADES) * len(words.COMPANY_FORMS)


class AccountBook:
    """Every demo account in compact arrays, so a million deals keep a few megabytes of state.

    An account's name is computed from its number; its database id and contact ids are known
    once the generator has inserted it.
    """

    def __init__(self, seed: int):
        self.offset = seed * 104_729
        self.team = array("b")
        self.owner = array("b")  # index of the owning rep in the team
        self.segment = array("b")
        self.contact_count = array("b")
        self.foreign = array("b")  # 1 when the account is billed in the second currency
        self.deal_count = array("l")
        self.ids = array("q")
        self.contact_start = array("q")
        self.contact_ids = array("q")

    def __len__(self) -> int:
        return len(self.team)

    def short_name(self, j: int) -> str:
        """The account's name without its legal form, as people say it: 'Northwind Logistics'."""
        p, t = len(words.COMPANY_PREFIXES), len(words.COMPANY_TRADES)
        n = self._combination(j)
        return f"{words.COMPANY_PREFIXES[n % p]} {words.COMPANY_TRADES[n // p % t]}"

    def name(self, j: int) -> str:
        """A unique company name for account number j: one of every combination first, then with a city."""
        combos = _COMBINATIONS
        base = f"{self.short_name(j)} {words.COMPANY_FORMS[self._combination(j) // (combos // len(words.COMPANY_FORMS))]}"
        lap = j // combos
        if lap == 0:
            return base
        city = words.CITIES[(lap - 1) % len(words.CITIES)]
        round_ = (lap - 1) // len(words.CITIES)
        return f"{base} ({city})" if round_ == 0 else f"{base} ({city} {round_ + 1})"

    def _combination(self, j: int) -> int:
        return (j * 7919 + self.offset) % _COMBINATIONS  # 7919 is prime: a permutation of the combinations

    def add(self, team: int, owner: int, segment: int, contacts: int, foreign: bool) -> int:
        self.team.append(team)
        self.owner.append(owner)
        self.segment.append(segment)
        self.contact_count.append(contacts)
        self.foreign.append(int(foreign))
        self.deal_count.append(0)
        return len(self.team) - 1


class Simulator:
    """Turns deal numbers 0..N-1 into DealStory objects, deterministically for (seed, today, N)."""

    @staticmethod
    def foreign_currency_for(currency: str) -> str:
        """Some demo deals are priced in another currency than the company's: which one."""
        return "USD" if currency != "USD" else "EUR"

    def __init__(self, *, teams: list[TeamPlan], loss_reason_ids: list[int], seed: int, today: dt.date,
                 deals: int, currency: str, custom_field_types: dict[str, str]):
        self.rng = random.Random(seed)
        self.teams = teams
        self.loss_reason_ids = loss_reason_ids
        self.today = today
        self.now = dt.datetime.combine(today, dt.time(0), UTC)
        self.start = self.now - 365 * DAY
        self.total = deals
        self.currency = currency
        self.foreign_currency = self.foreign_currency_for(currency)
        self.custom_field_types = custom_field_types
        self.book = AccountBook(seed)
        self.new_accounts: list[int] = []  # created since the generator last took them
        self.most_contacts = max(3, max(_contacts_needed(t.pipeline) for t in teams))

    # -- accounts ---------------------------------------------------------------------------

    def _account(self) -> tuple[int, bool]:
        rng, book = self.rng, self.book
        if len(book) and rng.random() >= NEW_ACCOUNT_SHARE:
            j = rng.randrange(len(book))
            return j, book.deal_count[j] > 0
        team = rng.choices(range(len(self.teams)), weights=[t.share for t in self.teams])[0]
        plan = self.teams[team]
        j = book.add(
            team=team,
            owner=rng.choices(range(len(plan.rep_ids)), weights=plan.skills)[0],
            segment=rng.randrange(len(plan.segments)),
            contacts=self.most_contacts + rng.randrange(3),
            foreign=rng.random() < 0.08,
        )
        self.new_accounts.append(j)
        return j, False

    def account_row(self, j: int) -> dict[str, Any]:
        plan = self.teams[self.book.team[j]]
        return {"name": self.book.name(j), "segment": plan.segments[self.book.segment[j]][0],
                "owner_id": plan.rep_ids[self.book.owner[j]]}

    def contact_rows(self, j: int) -> list[dict[str, Any]]:
        """The account's people; seeded by the account number so they do not disturb the deal stream."""
        rng = random.Random(self.book.offset + j)
        domain = self.book.short_name(j).split(" ")[0].lower() + ".example"
        rows = []
        for slot in range(self.book.contact_count[j]):
            first, last = rng.choice(words.FIRST_NAMES), rng.choice(words.LAST_NAMES)
            rows.append({"name": f"{first} {last}", "email": f"{first}.{last}{slot}@{domain}".lower(),
                         "phone": f"+1 555-01{rng.randrange(100):02d}", "title": rng.choice(words.JOB_TITLES)})
        return rows

    # -- deals --------------------------------------------------------------------------------

    def story(self, k: int) -> DealStory:
        rng = self.rng
        j, repeat = self._account()
        book = self.book
        book.deal_count[j] += 1
        team = self.teams[book.team[j]]
        plan = team.pipeline
        rep = book.owner[j] if rng.random() < 0.85 else rng.randrange(len(team.rep_ids))
        owner_id, skill = team.rep_ids[rep], team.skills[rep]
        created = _office((self.start + (k + rng.random()) / self.total * 365 * DAY).replace(microsecond=0))
        if created >= self.now:
            created = self.now - dt.timedelta(hours=1)
        typical = team.segments[book.segment[j]][1]
        amount = _money(typical * rng.lognormvariate(0, 0.6))
        override = None
        if rng.random() < 0.03:
            override = min(95, max(5, plan.stages[0].stage.probability + rng.choice((-10, 10, 20, 30))))
        source = "existing_account" if repeat and rng.random() < 0.7 else rng.choices(
            ("inbound", "outbound", "referral", "signal", "existing_account"), weights=(30, 40, 15, 8, 7))[0]
        story = DealStory(j, {
            "title": f"{book.short_name(j)} - {rng.choice(plan.offers)}",
            "owner_id": owner_id, "team_id": team.rep_team_ids[rep], "pipeline_id": plan.pipeline_id,
            "currency": self.foreign_currency if book.foreign[j] else self.currency,
            "probability_override": override, "source": source, "created_at": created,
            "custom_fields": {}, "lost_note": "", "version": 1,
        })
        walk = _Walk(self, story, plan, team, owner_id, skill, created)
        walk.run()
        walk.settle_fields(amount)
        return story

    def take_new_accounts(self) -> list[int]:
        taken, self.new_accounts = self.new_accounts, []
        return taken


class _Walk:
    """One deal's path through the stages, with the facts each gate needed on the way."""

    def __init__(self, sim: Simulator, story: DealStory, plan: PipelinePlan, team: TeamPlan, owner_id: int,
                 skill: float, created: dt.datetime):
        self.sim, self.rng, self.story, self.plan, self.team = sim, sim.rng, story, plan, team
        self.owner_id, self.skill, self.created = owner_id, skill, created
        self.passed: list[CriterionSpec] = []  # every criterion a move of this deal had to satisfy
        self.final_stage: StagePlan = plan.stages[0]
        self.closed_at: dt.datetime | None = None
        self.outcome = "open"
        self.quiet_from: dt.datetime | None = None  # stale deals: nothing happened after this
        self.moves: list[tuple[str, Stage | None, Stage, dt.datetime]] = []

    def run(self) -> None:
        rng, plan, now = self.rng, self.plan, self.sim.now
        t, i, went_back = self.created, 0, False
        self.moves.append(("created", None, plan.stages[0].stage, t))
        first_contact = rng.randrange(self.sim.book.contact_count[self.story.account])
        self.story.contacts[(first_contact, rng.choice(("influencer", "user", "user", "decision_maker")))] = None
        while True:
            sp = plan.stages[i]
            self.final_stage = sp
            year_part = (t - self.sim.start) / (365 * DAY)
            slow = 1 + 0.9 * year_part if i == plan.bottleneck else 1.0
            dwell = max(0.05, rng.lognormvariate(math.log(sp.median_days * slow / self.skill), DWELL_SIGMA))
            end = _office(t + dwell * DAY)
            if end >= now:
                self._open_stay(sp, t)
                return
            self._fill_stay(t, end)
            advance = sp.advance * self.skill * (1 - 0.15 * year_part if i == plan.bottleneck else 1)
            if rng.random() >= min(0.97, advance) and plan.lost is not None:
                self._close("lost", sp, plan.lost, end)
                return
            if i >= 2 and not went_back and rng.random() < 0.05:
                went_back = True
                self.moves.append(("backward", sp.stage, plan.stages[i - 1].stage, end))
                i, t = i - 1, end
                continue
            self._satisfy(sp.forward, t, end)
            if i + 1 == len(plan.stages):
                if plan.won is not None:
                    self._close("won", sp, plan.won, end)
                else:  # a pipeline without a Won stage: the deal waits in its last stage
                    self._open_stay(sp, t)
                return
            self.moves.append(("forward", sp.stage, plan.stages[i + 1].stage, end))
            i, t = i + 1, end

    def _close(self, kind: str, sp: StagePlan, to: Stage, at: dt.datetime) -> None:
        self.moves.append((kind, sp.stage, to, at))
        self.closed_at, self.outcome = at, kind
        if kind == "lost":
            rng = self.rng
            self.story.deal["lost_reason_id"] = rng.choices(self.sim.loss_reason_ids, weights=sp.loss_weights)[0]
            self.story.deal["lost_note"] = rng.choice(words.LOST_NOTES)

    def _open_stay(self, sp: StagePlan, entered: dt.datetime) -> None:
        """The stay the deal is in today: some exit criteria done, maybe gone quiet."""
        rng, now = self.rng, self.sim.now
        rot = sp.stage.rot_days
        idle = (now - entered) / DAY
        upper = now
        if rot is not None and idle > rot + 2 and rng.random() < STALE_SHARE:
            upper = now - (rot + 1 + rng.random() * min(20.0, idle - rot - 2)) * DAY
            self.quiet_from, self.story.stale = upper, True
        self._fill_stay(entered, upper)
        if self.quiet_from is None:  # an active deal was touched lately
            recent = max(entered, now - min(rot or 7, 7) * DAY)
            self._activity(*self._filler_kind(), recent, now)
        self._satisfy([spec for spec in sp.exit if rng.random() < 0.45], entered, upper)

    def _fill_stay(self, start: dt.datetime, end: dt.datetime) -> None:
        """Everyday calls, e-mails and meetings: about one every five days of the stay."""
        days = (end - start) / DAY
        for _ in range(min(6, int(days / 5 + self.rng.random()))):
            self._activity(*self._filler_kind(), start, end)

    def _filler_kind(self) -> tuple[str, str]:
        kind = _FILLER_KINDS[bisect.bisect(_FILLER_ODDS, self.rng.random())]
        return kind, self.rng.choice(words.ACTIVITY_OUTCOMES[kind])

    def _activity(self, kind: str, outcome: str, start: dt.datetime, end: dt.datetime) -> None:
        at = _moment(self.rng, start, end)
        self.story.activities.append((kind, self.rng.choice(words.ACTIVITY_SUBJECTS[kind]), outcome, at, self.owner_id))

    def _satisfy(self, specs: Any, start: dt.datetime, end: dt.datetime) -> None:
        """Create, inside [start, end), the facts that make each criterion hold at `end`."""
        rng, story = self.rng, self.story
        for spec in specs:
            cfg = spec.config
            if isinstance(cfg, ChecklistConfig):
                if cfg.item not in story.checklist:
                    at = _moment(rng, start, end)
                    evidence = rng.choice(words.EVIDENCE).format(date=at.strftime("%d %b"))
                    story.checklist[cfg.item] = (evidence, self.owner_id, at)
            elif isinstance(cfg, ApprovalConfig):
                if cfg.condition not in story.approvals:
                    by = self._approver(cfg.approver_roles)
                    story.approvals[cfg.condition] = (by, _moment(rng, start, end), "")
            elif isinstance(cfg, ActivityConfig):
                outcome = cfg.outcome if cfg.outcome is not None else words.ACTIVITY_OUTCOMES[cfg.activity][0]
                for _ in range(cfg.min_count):
                    self._activity(cfg.activity, outcome, start, end)
            elif isinstance(cfg, ContactRoleConfig):
                self._link_contacts(cfg)
            self.passed.append(spec)

    def _approver(self, roles: list[str]) -> int:
        team, rng = self.team, self.rng
        if "manager" in roles and ("rep" not in roles or rng.random() < 0.6):
            return team.manager_id
        if "rep" in roles:
            return self.owner_id
        return team.admin_id

    def _link_contacts(self, cfg: ContactRoleConfig) -> None:
        links = self.story.contacts
        size = self.sim.book.contact_count[self.story.account]
        if cfg.role is None:
            have = {slot for slot, _ in links}
            extra_roles = ("influencer", "user")
            slot = 0
            while len(have) < min(cfg.min_count, size):
                if slot not in have:
                    links[(slot, extra_roles[slot % 2])] = None
                    have.add(slot)
                slot += 1
            return
        holders = [slot for slot, role in links if role == cfg.role]
        slot = self.rng.randrange(size)
        while len(holders) < min(cfg.min_count, size):
            if (slot, cfg.role) not in links:
                links[(slot, cfg.role)] = None
                holders.append(slot)
            slot = (slot + 1) % size

    # -- fields and history ---------------------------------------------------------------------

    def settle_fields(self, amount: Decimal) -> None:
        """Amount, close date and next step over time, then the history rows with their values."""
        rng, sim, deal = self.rng, self.sim, self.story.deal
        end = self.closed_at or sim.now
        changes = self.story.changes
        first_amount = amount
        amount_changed_at = None
        if rng.random() < 0.2:
            new_amount = _money(float(amount) * rng.uniform(0.6, 1.5))
            if new_amount > 0 and new_amount != amount:
                amount_changed_at = _moment(rng, self.created, end)
                changes.append(("amount", str(amount), str(new_amount), amount_changed_at, self.owner_id))
                amount = new_amount
        # Reps guess optimistically: the first close date is well before a typical cycle would end.
        close = (self.created + rng.lognormvariate(math.log(0.6 * self.plan.expected_cycle_days), 0.4) * DAY).date()
        slips = 0
        slips_due = min(rng.choices((0, 1, 2, 3), (60, 22, 11, 7))[0], int((end - self.created) / (21 * DAY)))
        for at in sorted(_moment(rng, self.created, end) for _ in range(slips_due)):
            later = max(close + rng.randint(14, 45) * DAY, at.date() + 7 * DAY)
            changes.append(("expected_close_date", close.isoformat(), later.isoformat(), at, self.owner_id))
            close, slips = later, slips + 1
        if self.outcome == "open" and close < sim.today and rng.random() < 0.5:
            at = _moment(rng, max([self.created, *(c[3] for c in changes)]), self.quiet_from or sim.now)
            later = sim.today + rng.randint(7, 60) * DAY
            changes.append(("expected_close_date", close.isoformat(), later.isoformat(), at, self.owner_id))
            close, slips = later, slips + 1
        changes.sort(key=lambda c: c[3])
        probability = self.final_stage.stage.probability
        category = "commit" if probability >= 80 else "best_case" if probability >= 50 else "pipeline"
        if category == "best_case" and rng.random() < 0.2 or category == "pipeline" and rng.random() < 0.05:
            category = "commit" if category == "best_case" else "omitted"
        next_step, due = "", None
        if self.outcome == "open":
            roll = rng.random()
            if self.story.stale:
                if roll < 0.5:
                    next_step, due = rng.choice(words.NEXT_STEPS), sim.today - rng.randint(1, 20) * DAY
            elif roll < 0.72:
                next_step, due = rng.choice(words.NEXT_STEPS), sim.today + rng.randint(1, 14) * DAY
            elif roll < 0.9:
                next_step, due = rng.choice(words.NEXT_STEPS), sim.today - rng.randint(1, 10) * DAY
        deal.update(amount=amount, expected_close_date=close, forecast_category=category, next_step=next_step,
                    next_step_due=due, close_date_slips=slips, account=self.story.account)
        self._meet_field_criteria(deal)
        if amount_changed_at is not None and not self._fields_hold({**deal, "amount": first_amount}):
            changes[:] = [c for c in changes if c[0] != "amount"]  # the old amount would not have passed a gate
            amount_changed_at = None
        del deal["account"]
        if amount_changed_at is None:
            first_amount = deal["amount"]
        self._history(first_amount, deal["amount"], amount_changed_at)
        activities = self.story.activities
        last_move = self.moves[-1]
        deal.update(stage_id=last_move[2].pk, stage_entered_at=last_move[3], closed_at=self.closed_at,
                    last_activity_at=max((a[3] for a in activities), default=None))

    def _history(self, first_amount: Decimal, amount: Decimal, changed_at: dt.datetime | None) -> None:
        override = self.story.deal["probability_override"]
        rows = self.story.history
        for kind, from_stage, to_stage, at in self.moves:
            probability = {"won": 100, "lost": 0}.get(to_stage.kind, override if override is not None else to_stage.probability)
            value = amount if changed_at is not None and at >= changed_at else first_amount
            rows.append((kind, from_stage.pk if from_stage else None, to_stage.pk, at, self.owner_id, value, probability))

    def _fields_hold(self, fields: dict[str, Any]) -> bool:
        facts = DealFacts(fields=fields, stage_entered_at=self.created)
        return all(evaluate_one(spec, facts).met for spec in self.passed if isinstance(spec.config, FieldConfig))

    def _meet_field_criteria(self, fields: dict[str, Any]) -> None:
        """Give every field a gate asked for a value that passes it (e.g. a next step on a stale deal)."""
        facts = DealFacts(fields=fields, stage_entered_at=self.created)
        for spec in self.passed:
            cfg = spec.config
            if not isinstance(cfg, FieldConfig) or evaluate_one(spec, facts).met:
                continue
            if cfg.field.startswith("custom."):
                name = cfg.field.removeprefix("custom.")
                fields["custom_fields"][name] = self._value_for(cfg, self.sim.custom_field_types.get(name, "text"))
            else:
                fields[cfg.field] = self._value_for(cfg, _FIELD_TYPES.get(cfg.field, "text"))
                if cfg.field == "next_step" and fields.get("next_step_due") is None:
                    fields["next_step_due"] = self.sim.today - 3 * DAY if self.outcome == "open" else self.closed_at.date()
                if cfg.field == "next_step_due" and not fields.get("next_step"):
                    fields["next_step"] = self.rng.choice(words.NEXT_STEPS)

    def _value_for(self, cfg: FieldConfig, kind: str) -> Any:
        rng = self.rng
        if cfg.op == "true":
            return True
        if cfg.op == "eq":
            return cfg.value
        if cfg.op == "in":
            return rng.choice(cfg.value)
        if cfg.op in ("gt", "gte", "lt", "lte"):
            bound = Decimal(str(cfg.value))
            step = {"gt": 1, "gte": 0, "lt": -1, "lte": 0}[cfg.op]
            value = bound + step * max(Decimal(1), abs(bound) / 10)
            return int(value) if kind == "int" else value.quantize(Decimal("0.01")) if kind == "number" else value
        soon = self.sim.today + 30 * DAY
        return {"number": Decimal(1000), "int": 50, "date": soon, "isodate": soon.isoformat(), "boolean": True,
                "text": rng.choice(words.NEXT_STEPS), "ref": self.story.account}.get(kind, "yes")


_FILLER_KINDS = ("email", "call", "meeting", "note", "task")
_FILLER_ODDS = (0.35, 0.7, 0.8, 0.9)  # cumulative shares of the kinds above

_FIELD_TYPES = {"amount": "number", "probability_override": "int", "expected_close_date": "date",
                "next_step_due": "date", "account": "ref"}


def _contacts_needed(plan: PipelinePlan) -> int:
    """The most distinct contacts any criterion of the pipeline asks for."""
    need = 1
    for sp in plan.stages:
        for spec in sp.forward:
            if isinstance(spec.config, ContactRoleConfig):
                need = max(need, spec.config.min_count)
    return need


def _money(value: float) -> Decimal:
    return Decimal(max(100, int(round(value, -2)))).quantize(Decimal("0.01"))


def _office(t: dt.datetime) -> dt.datetime:
    """Move a moment forward into office hours (Mon-Fri 08-18), never backward."""
    if t.hour < 8:
        t = t.replace(hour=8 + t.minute % 2)
    elif t.hour >= 18:
        t = (t + DAY).replace(hour=8 + t.minute % 3)
    if t.weekday() >= 5:
        t += (7 - t.weekday()) * DAY
    return t


def _moment(rng: random.Random, start: dt.datetime, end: dt.datetime) -> dt.datetime:
    """A moment in [start, end), in office hours when the window allows, to the second."""
    at = start + dt.timedelta(seconds=int(rng.random() * max(0.0, (end - start).total_seconds() - 1)))
    shifted = _office(at)
    return shifted if shifted < end else at
