"""The as-of rebuild: the pipeline as it stood at an instant, read from the deals' state spans.

`deals_statespan` (dealgate.deals.timeline) holds, per deal, every stretch of time in which its
stage, amount, probability, currency, close date, forecast category, owner and team did not
change, rebuilt from the append-only history whenever it grows. The state at an instant T is the
span with starts_at < T <= ends_at (events strictly before T count); an event in a window is a
span starting in it, with the state just before it in its prev_* columns. So every figure is one
pass over an index range, with no window over the event stream at request time.

Everything here is SQL that runs unchanged on SQLite and PostgreSQL. It only reads. Money is summed
in integer cents so totals add up exactly.

Cuts by currency, owner and team use the values as of the span; source and segment (and who may
see a deal) use the deal's current values.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import connection

from dealgate.analytics.cache import figure
from dealgate.deals.timeline import FOREVER_AT, stored_timestamp
from dealgate.people.access import role_of, team_id_of
from dealgate.pipelines.models import Pipeline

CUTS = ("pipeline", "owner", "team", "source", "segment")


@dataclass(frozen=True)
class Scope:
    """Which deals a figure is about. None means "any"."""

    pipeline_id: int | None = None
    owner_id: int | None = None
    team_id: int | None = None
    source: str | None = None
    segment: str | None = None
    currency: str = field(default_factory=lambda: settings.DEALGATE_CURRENCY)
    # Access: a non-admin sees deals they own or their team's.
    viewer_id: int | None = None
    viewer_team_id: int | None = None
    # Dated exchange rates (dealgate.analytics.rates.RateTable): deals in these currencies count too,
    # converted into `currency` (the company's). Empty: only deals in `currency` count.
    rates: tuple = ()

    @property
    def converted(self) -> list[str]:
        """The currencies converted into the scope's, besides its own."""
        return [code for code, _ in self.rates]

    def narrowed(self, cut: str, value: Any) -> "Scope":
        name = {"pipeline": "pipeline_id", "owner": "owner_id", "team": "team_id"}.get(cut, cut)
        return replace(self, **{name: value})


def scope_for(user: Any, **cuts: Any) -> Scope:
    """A scope limited to what `user` may see (dealgate.people.access: reps and managers see their team)."""
    scope = Scope(**{k: v for k, v in cuts.items() if v not in (None, "")})
    if user is not None and role_of(user) != "admin":
        scope = replace(scope, viewer_id=user.pk, viewer_team_id=team_id_of(user))
    return scope


def with_rates(scope: Scope) -> Scope:
    """The scope converting every currency that has an exchange rate into the company currency
    (loaded once, here: the rates table is tiny). Only figures in the company currency convert;
    a scope in another currency (--currency USD) counts that currency's deals alone."""
    from dealgate.analytics.rates import rate_table

    if scope.currency != settings.DEALGATE_CURRENCY:
        return scope
    return replace(scope, rates=rate_table())


def amount_sql(scope: Scope, cutoff: dt.datetime, *, span: str = "s") -> str:
    """SQL: the span's amount in cents of the scope's currency. Open deals convert at the rate of
    the as-of day, closed ones at the rate of their close (the span's stage entry); see decision 035."""
    from dealgate.analytics.rates import as_of_day, convert_sql

    return convert_sql(scope.rates, f"{span}.amount_cents", f"{span}.currency", date_sql=f"{span}.stage_entered_at",
                       open_sql=f"{span}.stage_kind = 'open'", open_day=as_of_day(cutoff))


def _scope_where(scope: Scope, *, before: bool = False, parts: str = "all",
                 visible_on: str = "d") -> tuple[str, dict[str, Any]]:
    """The scope as a condition on a span (`before`: on the state just before the span's event).

    Currency, owner and team are read as of the span ("as_of" part: they are logged when they
    change); the pipeline, source, segment and who may see the deal are fixed or current values
    ("fixed" part; source, segment and visibility joined as `d` and `a`). `visible_on="s"`: who may
    see the deal is read from the span's own owner and team (true of a deal's current span only:
    `spans_holding`).
    """
    prev = "prev_" if before else ""
    clauses: list[str] = []
    params: dict[str, Any] = {"currency": scope.currency}
    if parts in ("all", "as_of"):
        if scope.rates:
            codes = ", ".join(f"'{code}'" for code in scope.converted if code.isalpha() and len(code) == 3)
            clauses.append(f"s.{prev}currency IN (%(currency)s, {codes})")
        else:
            clauses.append(f"s.{prev}currency = %(currency)s")
        for column, value in (("owner_id", scope.owner_id), ("team_id", scope.team_id)):
            if value is not None:
                clauses.append(f"s.{prev}{column} = %(cut_{column})s")
                params[f"cut_{column}"] = value
    if parts in ("all", "fixed"):
        if scope.pipeline_id is not None:
            clauses.append("s.pipeline_id = %(cut_pipeline)s")
            params["cut_pipeline"] = scope.pipeline_id
        else:  # every pipeline, spelled so the (pipeline_id, ...) indexes still apply
            ids = list(Pipeline.objects.values_list("pk", flat=True)) or [-1]
            clauses.append(f"s.pipeline_id IN ({', '.join(str(int(i)) for i in ids)})")
        for column, value in (("d.source", scope.source), ("a.segment", scope.segment)):
            if value is not None:
                clauses.append(f"{column} = %(cut_{column[2:]})s")
                params[f"cut_{column[2:]}"] = value
        if scope.viewer_id is not None:
            clauses.append(f"({visible_on}.owner_id = %(viewer)s OR {visible_on}.team_id = %(viewer_team)s)")
            params.update(viewer=scope.viewer_id, viewer_team=scope.viewer_team_id if scope.viewer_team_id else -1)
    return " AND ".join(clauses), params


def _joins(scope: Scope) -> str:
    """The deal (and account) joins that the current-value cuts need; none for the common case."""
    joins = ""
    if scope.source is not None or scope.segment is not None or scope.viewer_id is not None:
        joins += " JOIN deals_deal d ON d.id = s.deal_id"
    if scope.segment is not None:
        joins += " JOIN deals_account a ON a.id = d.account_id"
    return joins


def spans(scope: Scope) -> tuple[str, str, dict[str, Any]]:
    """(FROM clause, WHERE condition, params) for the scope's spans: the start of every query here."""
    where, params = _scope_where(scope)
    return f"deals_statespan s{_joins(scope)}", where, params


def spans_holding(scope: Scope) -> tuple[str, str, dict[str, Any]]:
    """`spans`, for a query of the spans holding one cutoff (the deals as they stood then; the caller
    adds `s.starts_at < cutoff AND s.ends_at >= cutoff`).

    Who may see a deal is decided by its current owner and team, which a deal's current span (the
    one that never ends) carries: every reassignment logs the owner and team it changes, and a
    logged change rebuilds the deal's spans (dealgate.deals.timeline). So for a viewer the spans
    are two parts: current spans tested on their own columns, through the span indexes, and spans
    that have ended, joined with their deal as before. Joining every span held PostgreSQL to the
    whole deals table: a rep's open deals as of now took 166 ms at 100,000 deals and 1.25 s at
    1,000,000, against 36 and 34 ms in two parts (decision 052). The caller's conditions reach both
    parts (PostgreSQL pushes them into each branch of the UNION ALL)."""
    if scope.viewer_id is None or scope.source is not None or scope.segment is not None:
        return spans(scope)
    current, params = _scope_where(scope, visible_on="s")
    ended, _ = _scope_where(scope)
    params["forever"] = ts(FOREVER_AT)
    return (f"(SELECT s.* FROM deals_statespan s WHERE {current} AND s.ends_at = %(forever)s UNION ALL "
            f"SELECT s.* FROM deals_statespan s JOIN deals_deal d ON d.id = s.deal_id "
            f"WHERE {ended} AND s.ends_at < %(forever)s) s"), "1 = 1", params


# --- dialect: the few expressions SQLite and PostgreSQL spell differently ------------------------

def is_postgres() -> bool:
    return connection.vendor == "postgresql"


def days_between(start: str, end: str) -> str:
    """Fractional days from `start` to `end` (SQL expressions of timestamps), as a float: PostgreSQL's
    EXTRACT gives numeric, whose arithmetic, comparisons and sorts cost several times a float's
    over millions of spans (date_part gives double precision)."""
    if is_postgres():
        return f"(date_part('epoch', {end} - {start}) / 86400.0)"
    return f"(julianday({end}) - julianday({start}))"


ts = stored_timestamp  # a timestamp parameter in the form the backend stores


def money(cents_value: Any) -> Decimal:
    return (Decimal(int(cents_value or 0)) / 100).quantize(Decimal("0.01"))


def fetch(sql: str, params: dict[str, Any]) -> list[dict[str, Any]]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        names = [c[0] for c in cursor.description]
        return [dict(zip(names, row)) for row in cursor.fetchall()]


def fetch_rows(sql: str, params: dict[str, Any]) -> list[tuple]:
    """Rows as tuples: for many rows that go straight into arrays (no dict per row)."""
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def fetch_floats(sql: str, params: dict[str, Any], columns: int) -> "np.ndarray":
    """The rows of a query of `columns` numbers as a float array (NULL as nan), in no particular
    order, for many rows that go straight into numpy. PostgreSQL sends each column as one array
    (`array_agg`) in a binary COPY, read with `np.frombuffer`: no Python object, and no round trip,
    per value (at 1,000,000 deals the forecast's 688,000 creation spans took 1.4-2.4 s as rows, and
    1.0 s as a binary COPY of rows); the values are the same doubles. SQLite: the rows, converted."""
    import numpy as np

    if not is_postgres():
        return np.array(fetch_rows(sql, params), dtype=float).reshape(-1, columns)
    names = ", ".join(f"c{i}" for i in range(columns))
    arrays = ", ".join(f"array_agg(COALESCE(CAST(c{i} AS float8), 'NaN'))" for i in range(columns))
    with connection.cursor() as cursor, cursor.cursor.copy(
            f"COPY (SELECT {arrays} FROM ({sql}) AS numbers({names})) TO STDOUT (FORMAT BINARY)", params) as copy:
        raw = b"".join(bytes(block) for block in copy)

    def number(at: int) -> int:
        return int.from_bytes(raw[at:at + 4], "big", signed=True)

    # COPY: signature (11 bytes), flags (4), header extension length (4) and extension; the row: a
    # 16-bit field count, then per field a 32-bit length (-1: NULL, array_agg of no rows) and the
    # array: dimensions, flags, element type, then per dimension its size and lower bound, then per
    # element a 32-bit length (8) and a big-endian double.
    at = 19 + number(15) + 2
    made = []
    for _ in range(columns):
        length = number(at)
        if length < 0:
            return np.empty((0, columns))
        size = number(at + 16) if number(at + 4) else 0
        element = np.dtype([("length", ">i4"), ("value", ">f8")])
        values = np.frombuffer(raw, dtype=element, count=size, offset=at + 4 + 12 + 8 * number(at + 4))
        assert (values["length"] == 8).all()
        made.append(values["value"].astype(float))
        at += 4 + length
    return np.column_stack(made)


def state_cte(scope: Scope, cutoff: dt.datetime) -> tuple[str, dict[str, Any]]:
    """WITH state: each in-scope deal as it stood at `cutoff`, i.e. its span holding that instant
    (events strictly before the cutoff count). Deals with no stage row yet are absent. Filters on
    `state` in the caller's query reach the span indexes (the CTE is inlined)."""
    source, where, params = spans_holding(scope)
    params["cutoff"] = ts(cutoff)
    return f"""WITH state AS (
  SELECT s.deal_id, s.stage_id, s.stage_kind AS kind, s.probability, s.stage_entered_at AS stage_at,
         {amount_sql(scope, cutoff)} AS amount_cents, s.created_at, s.owner_id, s.team_id, s.close_date, s.forecast_category AS category
  FROM {source} WHERE {where} AND s.starts_at < %(cutoff)s AND s.ends_at >= %(cutoff)s
)""", params


def _at_cutoff(column: str, span: str) -> str:
    """A column of the deal's state at the cutoff, looked up (used only after a reopening)."""
    return (f"(SELECT f.{column} FROM deals_statespan f WHERE f.deal_id = {span}.deal_id "
            "AND f.starts_at < %(cutoff)s AND f.ends_at >= %(cutoff)s)")


REOPENING = (False, True)


def reopened_before_cutoff(reopened: bool, span: str = "s") -> str:
    """SQL condition: the deal of the span was (not) reopened after it and before the cutoff.

    Figures that need a deal's outcome at the cutoff run once per case and add the two up: without
    a reopening the span itself knows the outcome; with one (rare, and found through a small
    partial index) it is looked up. One query for both would put the lookup, a correlated
    subquery, inside the aggregate, which keeps PostgreSQL from spreading the millions of other
    spans over its parallel workers."""
    if reopened:
        return f"{span}.next_reopen_at < %(cutoff)s"
    return f"({span}.next_reopen_at IS NULL OR {span}.next_reopen_at >= %(cutoff)s)"


def outcome_at_cutoff(reopened: bool, span: str = "s") -> str:
    """SQL: 'won', 'lost' or 'open' for the deal of an open-stage span, as it stood at the cutoff,
    among spans that match `reopened_before_cutoff(reopened, span)`.

    `span` (a span, or a row with the same next_won_at / next_lost_at / deal_id columns) knows the
    deal's next win and loss after it; unless the deal was reopened before the cutoff, the first
    close before the cutoff (if any) is its state then. After a reopening, the state is looked up."""
    if reopened:
        return _at_cutoff("stage_kind", span)
    won, lost = f"{span}.next_won_at", f"{span}.next_lost_at"
    return f"""(CASE WHEN {won} < %(cutoff)s AND ({lost} IS NULL OR {won} < {lost}) THEN 'won'
  WHEN {lost} < %(cutoff)s AND ({won} IS NULL OR {lost} < {won}) THEN 'lost'
  ELSE 'open' END)"""


def won_at_cutoff(reopened: bool, span: str = "s") -> str:
    """SQL: when the deal of an open-stage span was won, if its state at the cutoff is won."""
    return _at_cutoff("stage_entered_at", span) if reopened else f"{span}.next_won_at"


@figure
def pipeline_by_stage(scope: Scope, cutoff: dt.datetime, *, due_by: dt.date | None = None) -> list[dict[str, Any]]:
    """Open deals per stage at `cutoff`: count, amount, weighted amount (cents), mean age in stage.

    `due_by`: only deals whose expected close date (as of the cutoff) is on or before that day.
    """
    cte, params = state_cte(scope, cutoff)
    due = ""
    if due_by is not None:
        due = "AND state.close_date IS NOT NULL AND state.close_date <= %(due_by)s"
        params["due_by"] = due_by.isoformat()
    rows = fetch(cte + f"""
SELECT state.stage_id, COUNT(*) AS deals, COUNT(state.amount_cents) AS with_amount,
       SUM(state.amount_cents) AS amount_cents, SUM(state.amount_cents * state.probability) AS weighted_cents_x100,
       AVG({days_between('state.stage_at', '%(cutoff)s')}) AS mean_age_days
FROM state WHERE state.kind = 'open' {due}
GROUP BY state.stage_id""", params)
    for row in rows:
        row["amount"] = money(row.pop("amount_cents"))
        row["weighted"] = (Decimal(int(row.pop("weighted_cents_x100") or 0)) / 10000).quantize(Decimal("0.01"))
    return rows


def open_deals(scope: Scope, cutoff: dt.datetime) -> list[tuple]:
    """Open deals at `cutoff` as columns for vectorised simulation: (stage_id, age days, amount cents,
    owner_id, team_id, close_date, category). Rows, not a loop: the caller hands them to numpy."""
    cte, params = state_cte(scope, cutoff)
    sql = cte + f"""
SELECT state.stage_id, {days_between('state.stage_at', '%(cutoff)s')} AS age, state.amount_cents AS cents,
       state.owner_id, state.team_id, state.close_date, state.category
FROM state WHERE state.kind = 'open' AND state.amount_cents IS NOT NULL"""
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def percentiles(inner_sql: str, params: dict[str, Any], quantiles: tuple[int, ...] = (500, 750, 900), *,
                prefix: str = "") -> dict[Any, dict[str, Any]]:
    """{grp: {"n": n, 500: value, ...}} of a query of (grp, value), per-mille quantiles interpolated
    linearly between ranks. PostgreSQL has the aggregate (percentile_cont); SQLite ranks in SQL."""
    if is_postgres():
        fractions = ", ".join(str(q / 1000) for q in quantiles)
        rows = fetch(prefix + f"""
SELECT grp, COUNT(*) AS n, percentile_cont(ARRAY[{fractions}]) WITHIN GROUP (ORDER BY value) AS p
FROM ({inner_sql}) v GROUP BY grp""", params)
        return {row["grp"]: {"n": int(row["n"]), **{q: float(v) for q, v in zip(quantiles, row["p"])}} for row in rows}
    return interpolate(fetch(prefix + percentile_rows(inner_sql, quantiles), params), quantiles)


def percentile_rows(inner_sql: str, quantiles: tuple[int, ...] = (500, 750, 900)) -> str:
    """Wrap a query of (grp, value) so only the rows needed for the given per-mille quantiles come back.

    Ranks are chosen in SQL (window functions), so a stage with 100k stays returns at most 2 rows
    per quantile; `interpolate` finishes the arithmetic on that handful.
    """
    conditions = " OR ".join(
        f"(rn - 1) = ({q} * (n - 1)) / 1000 OR (rn - 1) = ({q} * (n - 1)) / 1000 + 1" for q in quantiles
    )
    return f"""
SELECT grp, value, rn, n FROM (
  SELECT grp, value, ROW_NUMBER() OVER (PARTITION BY grp ORDER BY value) AS rn,
         COUNT(*) OVER (PARTITION BY grp) AS n
  FROM ({inner_sql}) v
) ranked WHERE {conditions}"""


def interpolate(rows: list[dict[str, Any]], quantiles: tuple[int, ...] = (500, 750, 900)) -> dict[Any, dict[str, Any]]:
    """{grp: {"n": n, 500: value, 750: value, ...}} from `percentile_rows` output (linear interpolation)."""
    by_group: dict[Any, dict[int, float]] = {}
    sizes: dict[Any, int] = {}
    for row in rows:
        by_group.setdefault(row["grp"], {})[int(row["rn"])] = float(row["value"])
        sizes[row["grp"]] = int(row["n"])
    result: dict[Any, dict[str, Any]] = {}
    for grp, ranks in by_group.items():
        n = sizes[grp]
        entry: dict[str, Any] = {"n": n}
        for q in quantiles:
            low = (q * (n - 1)) // 1000
            fraction = (q * (n - 1)) / 1000 - low
            lo_value = ranks[low + 1]
            hi_value = ranks.get(low + 2, lo_value)
            entry[q] = lo_value + fraction * (hi_value - lo_value)
        result[grp] = entry
    return result
