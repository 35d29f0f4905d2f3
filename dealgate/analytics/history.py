"""The as-of rebuild: the pipeline as it stood at an instant, from the append-only history.

Everything here is SQL that runs unchanged on SQLite and PostgreSQL (common table expressions and
window functions). It only reads.

One event stream per deal, ordered by (at, stage rows before field changes, id):
  * a StageHistory row sets the deal's stage, probability and amount (the snapshot at the move);
  * a FieldChange row with field "amount" sets the amount.
The deal's state at an instant is the state after its last event before that instant (found by
index seeks); windows over the event stream are only run for the deals a figure needs. A deal
with no stage row yet did not exist. Money is summed in integer cents so totals add up exactly.

Cuts (pipeline, owner, team, source, segment) and the currency use the deal's current values.
The expected close date and the forecast category are rebuilt from FieldChange rows: the last new
value before the instant, else the first old value after it, else today's value.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import connection

from dealgate.people.access import role_of, team_id_of

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

    def narrowed(self, cut: str, value: Any) -> "Scope":
        name = {"pipeline": "pipeline_id", "owner": "owner_id", "team": "team_id"}.get(cut, cut)
        return replace(self, **{name: value})


def scope_for(user: Any, **cuts: Any) -> Scope:
    """A scope limited to what `user` may see (dealgate.people.access: reps and managers see their team)."""
    scope = Scope(**{k: v for k, v in cuts.items() if v not in (None, "")})
    if user is not None and role_of(user) != "admin":
        scope = replace(scope, viewer_id=user.pk, viewer_team_id=team_id_of(user))
    return scope


def _scope_where(scope: Scope) -> tuple[str, dict[str, Any]]:
    clauses, params = ["d.currency = %(currency)s"], {"currency": scope.currency}
    for column, value in (("d.pipeline_id", scope.pipeline_id), ("d.owner_id", scope.owner_id),
                          ("d.team_id", scope.team_id), ("d.source", scope.source), ("a.segment", scope.segment)):
        if value is not None:
            key = "cut_" + column.split(".")[1]
            clauses.append(f"{column} = %({key})s")
            params[key] = value
    if scope.viewer_id is not None:
        clauses.append("(d.owner_id = %(viewer)s OR d.team_id = %(viewer_team)s)")
        params.update(viewer=scope.viewer_id, viewer_team=scope.viewer_team_id if scope.viewer_team_id else -1)
    return " AND ".join(clauses), params


# --- dialect: the few expressions SQLite and PostgreSQL spell differently ------------------------

def is_postgres() -> bool:
    return connection.vendor == "postgresql"


def days_between(start: str, end: str) -> str:
    """Fractional days from `start` to `end` (SQL expressions of timestamps)."""
    if is_postgres():
        return f"(EXTRACT(EPOCH FROM ({end} - {start})) / 86400.0)"
    return f"(julianday({end}) - julianday({start}))"


def cents(expr: str) -> str:
    return f"CAST(ROUND(({expr}) * 100) AS BIGINT)"


def ts(value: dt.datetime) -> Any:
    """A timestamp parameter in the form the backend stores (SQLite keeps naive UTC text)."""
    adapted = connection.ops.adapt_datetimefield_value(value)
    if is_postgres():
        return adapted
    return str(adapted)


def money(cents_value: Any) -> Decimal:
    return (Decimal(int(cents_value or 0)) / 100).quantize(Decimal("0.01"))


def fetch(sql: str, params: dict[str, Any]) -> list[dict[str, Any]]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        names = [c[0] for c in cursor.description]
        return [dict(zip(names, row)) for row in cursor.fetchall()]


def _field_as_of(name: str, column: str) -> str:
    """The value of a FieldChange-tracked field at the cutoff, as text (see the module docstring)."""
    return (
        "COALESCE("
        f"(SELECT f.new_value FROM deals_fieldchange f WHERE f.deal_id = s.id AND f.field = '{name}' "
        "AND f.at < %(cutoff)s ORDER BY f.at DESC, f.id DESC LIMIT 1), "
        f"(SELECT f.old_value FROM deals_fieldchange f WHERE f.deal_id = s.id AND f.field = '{name}' "
        "AND f.at >= %(cutoff)s ORDER BY f.at, f.id LIMIT 1), "
        f"CAST({column} AS VARCHAR(20)))"
    )


def _last_row(table: str, extra: str = "") -> str:
    """The id of a deal's last row in `table` before the cutoff: one index seek per deal."""
    return (f"(SELECT x.id FROM {table} x WHERE x.deal_id = s.id {extra} AND x.at < %(cutoff)s "
            "ORDER BY x.at DESC, x.id DESC LIMIT 1)")


def base_ctes(scope: Scope, cutoff: dt.datetime, *, rows_of: str | None = None,
              plans: bool = False) -> tuple[str, dict[str, Any]]:
    """WITH-clauses every analytic builds on, for events strictly before `cutoff`.

    scoped  the deals of the scope (current attributes)
    state   each deal's state at the cutoff, found by index seeks (its last stage row, its last
            amount change): stage, kind, position, probability, amount, when it entered the stage,
            expected close date and forecast category. Deals with no stage row yet are absent.
    stays   one row per StageHistory row of the picked deals: the stay it opens, when it ended
            (left_at), and the deal's last stage and when it got there (final_stage_id, final_at)
    ev      the picked deals' event stream with the stage, probability and amount after each event

    `rows_of` is a condition on `state` picking the deals whose rows `stays` and `ev` window over
    (e.g. only deals with an event in the period); the window CTEs are only computed when used.
    `plans`: also rebuild the expected close date and forecast category (four more seeks a deal).
    """
    where, params = _scope_where(scope)
    params["cutoff"] = ts(cutoff)
    picked = f"SELECT state.deal_id FROM state WHERE {rows_of}" if rows_of else "SELECT state.deal_id FROM state"
    sql = f"""
WITH scoped AS MATERIALIZED (
  SELECT d.id, d.created_at, d.owner_id, d.team_id, d.expected_close_date, d.forecast_category
  FROM deals_deal d JOIN deals_account a ON a.id = d.account_id
  WHERE {where}
),
state AS MATERIALIZED (
  SELECT s.id AS deal_id, h.to_stage_id AS stage_id, st.kind, st.position, h.probability, h.at AS stage_at,
         CASE WHEN f.id IS NOT NULL AND f.at >= h.at THEN CAST(NULLIF(f.new_value, '') AS NUMERIC(14, 2))
              ELSE h.amount END AS amount,
         s.created_at, s.owner_id, s.team_id,
         {_field_as_of('expected_close_date', 's.expected_close_date') if plans else 'NULL'} AS close_date,
         {_field_as_of('forecast_category', 's.forecast_category') if plans else 'NULL'} AS category
  FROM scoped s
  JOIN deals_stagehistory h ON h.id = {_last_row('deals_stagehistory')}
  JOIN pipelines_stage st ON st.id = h.to_stage_id
  LEFT JOIN deals_fieldchange f ON f.id = {_last_row('deals_fieldchange', "AND x.field = 'amount'")}
),
picked AS MATERIALIZED ({picked}),
stays AS MATERIALIZED (
  SELECT h.id, h.deal_id, h.to_stage_id AS stage_id, h.at AS entered_at, h.amount,
         LEAD(h.at) OVER (PARTITION BY h.deal_id ORDER BY h.at, h.id) AS left_at,
         LAST_VALUE(h.to_stage_id) OVER whole AS final_stage_id,
         LAST_VALUE(h.at) OVER whole AS final_at
  FROM deals_stagehistory h
  WHERE h.deal_id IN (SELECT deal_id FROM picked) AND h.at < %(cutoff)s
  WINDOW whole AS (PARTITION BY h.deal_id ORDER BY h.at, h.id ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING)
),
ev0 AS (
  SELECT h.deal_id, h.at, 0 AS prio, h.id AS eid, h.to_stage_id AS stage_id, h.probability, h.amount
  FROM deals_stagehistory h WHERE h.deal_id IN (SELECT deal_id FROM picked) AND h.at < %(cutoff)s
  UNION ALL
  SELECT f.deal_id, f.at, 1, f.id, NULL, NULL, CAST(NULLIF(f.new_value, '') AS NUMERIC(14, 2))
  FROM deals_fieldchange f
  WHERE f.deal_id IN (SELECT deal_id FROM picked) AND f.field = 'amount' AND f.at < %(cutoff)s
),
ev1 AS (
  SELECT ev0.*,
         COUNT(stage_id) OVER (PARTITION BY deal_id ORDER BY at, prio, eid ROWS UNBOUNDED PRECEDING) AS g
  FROM ev0
),
ev AS MATERIALIZED (
  SELECT ev1.deal_id, ev1.at, ev1.prio, ev1.eid, ev1.amount, ev1.stage_id AS moved_to,
         MAX(ev1.stage_id) OVER (PARTITION BY ev1.deal_id, ev1.g) AS stage_id
  FROM ev1
)"""
    return sql, params


def pipeline_by_stage(scope: Scope, cutoff: dt.datetime, *, due_by: dt.date | None = None) -> list[dict[str, Any]]:
    """Open deals per stage at `cutoff`: count, amount, weighted amount (cents), mean age in stage.

    `due_by`: only deals whose expected close date (as of the cutoff) is on or before that day.
    """
    ctes, params = base_ctes(scope, cutoff, plans=due_by is not None)
    due = ""
    if due_by is not None:
        due = "AND state.close_date IS NOT NULL AND state.close_date <= %(due_by)s"
        params["due_by"] = due_by.isoformat()
    rows = fetch(ctes + f"""
SELECT state.stage_id, COUNT(*) AS deals, COUNT(state.amount) AS with_amount,
       SUM({cents('state.amount')}) AS amount_cents,
       SUM({cents('state.amount')} * state.probability) AS weighted_cents_x100,
       AVG({days_between('state.stage_at', '%(cutoff)s')}) AS mean_age_days
FROM state WHERE state.kind = 'open' {due}
GROUP BY state.stage_id""", params)
    for row in rows:
        row["amount"] = money(row.pop("amount_cents"))
        row["weighted"] = (Decimal(int(row.pop("weighted_cents_x100") or 0)) / 10000).quantize(Decimal("0.01"))
    return rows


def pipeline_total(scope: Scope, cutoff: dt.datetime) -> Decimal:
    """Sum of amounts of open deals at `cutoff` (the waterfall's opening and closing pipeline)."""
    return sum((row["amount"] for row in pipeline_by_stage(scope, cutoff)), Decimal("0.00"))


def open_deals(scope: Scope, cutoff: dt.datetime) -> list[tuple]:
    """Open deals at `cutoff` as columns for vectorised simulation: (stage_id, age days, amount cents,
    owner_id, team_id, close_date, category). Rows, not a loop: the caller hands them to numpy."""
    ctes, params = base_ctes(scope, cutoff)
    sql = ctes + f"""
SELECT state.stage_id, {days_between('state.stage_at', '%(cutoff)s')} AS age, {cents('state.amount')} AS cents,
       state.owner_id, state.team_id, state.close_date, state.category
FROM state WHERE state.kind = 'open' AND state.amount IS NOT NULL"""
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


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
