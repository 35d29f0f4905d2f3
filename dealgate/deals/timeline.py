"""Rebuild deals' state spans (`StateSpan`) from their append-only history.

Every writer ends up here: the services and any ORM insert of StageHistory/FieldChange rows call
`refresh_spans` for the deals they touched (AppendOnlyModel does it), bulk loaders call it for their
batch, `dealgate spans --rebuild` for everything. A deal's spans are deleted and computed again from
all its events, so the result never depends on the order in which rows arrived.

Two spellings of the same projection: `project` (Python) for a list of deals, the live path, where
planning the windowed statement cost PostgreSQL 8 ms per deal against about 1 ms in all this way;
and one INSERT ... SELECT with window functions for a range, a pipeline or everything, which writes
a million deals' spans in time order without moving them through Python. A property test
(tests/core/test_state_spans.py) holds the two to identical rows on random histories.

A deal's events, in order (at, stage rows before field changes, id):
  * a StageHistory row sets stage, probability, amount and currency (its snapshot at the move);
  * a FieldChange row sets the field it names (amount, currency, expected close date, forecast
    category, owner, team); a probability override change sets the probability until the next
    move: the override, or the stage's configured probability when the override was cleared.
A field's value at an event is the last change's new value up to it, else the first change's old
value, else the deal's current value (no change was ever logged). Events before the deal's first
stage row (none in practice) have no span: a deal with no stage row did not exist yet.
"""

from __future__ import annotations

import datetime as dt
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Iterable

from django.db import connection, transaction
from django.utils import timezone

from dealgate.deals.models import SpanRewrite

FIELDS = {  # FieldChange.field -> (span column, how to read the logged text, the deal's current value)
    "expected_close_date": ("close_date", "date", "d.expected_close_date"),
    "forecast_category": ("forecast_category", "text", "d.forecast_category"),
    "owner": ("owner_id", "id", "d.owner_id"),
    "team": ("team_id", "id", "d.team_id"),
}
COLUMNS = (
    "deal_id, pipeline_id, created_at, starts_at, ends_at, history_id, move_kind, stage_id, stage_kind, "
    "stage_position, stage_entered_at, next_move_at, next_advance_at, probability, amount_cents, currency, "
    "close_date, forecast_category, owner_id, team_id, prev_stage_id, prev_stage_kind, prev_stage_entered_at, "
    "prev_amount_cents, prev_currency, prev_owner_id, prev_team_id, next_won_at, next_lost_at, next_reopen_at, "
    "prev_entry_at"
)


def _typed(kind: str, text: str) -> str:
    if kind == "date":
        return f"CAST(NULLIF({text}, '') AS DATE)" if connection.vendor == "postgresql" else f"NULLIF({text}, '')"
    if kind == "id":
        return f"CAST(NULLIF(NULLIF({text}, ''), 'None') AS BIGINT)"
    return text


def _cents(text: str) -> str:
    return f"CAST(ROUND(CAST(NULLIF({text}, '') AS NUMERIC(14, 2)) * 100) AS BIGINT)"


def _insert_sql(deals: str) -> str:
    """INSERT ... SELECT of every span of the deals matched by `deals`, a condition on a deal id
    column spelled `{deal}`. It is applied to each table directly (not through a list of picked
    deals), so each table's deal index answers it even when the planner's statistics are stale."""
    order = "PARTITION BY deal_id ORDER BY at, prio, eid"
    running = f"({order} ROWS UNBOUNDED PRECEDING)"
    field_counts = ",\n    ".join(
        f"SUM(CASE WHEN field = '{name}' THEN 1 ELSE 0 END) OVER {running} AS n_{column}"
        for name, (column, _, _) in FIELDS.items())
    field_values = ",\n    ".join(
        f"MAX(CASE WHEN field = '{name}' THEN new_value END) OVER (PARTITION BY deal_id, n_{column}) AS new_{column},\n"
        f"    MAX(CASE WHEN field = '{name}' AND n_{column} = 1 THEN old_value END) OVER (PARTITION BY deal_id) "
        f"AS first_old_{column},\n"
        f"    MAX(n_{column}) OVER (PARTITION BY deal_id) AS all_{column}"
        for name, (column, _, _) in FIELDS.items())
    field_finals = ",\n    ".join(
        f"CASE WHEN all_{column} = 0 THEN {current} WHEN n_{column} > 0 THEN {_typed(kind, f'new_{column}')} "
        f"ELSE {_typed(kind, f'first_old_{column}')} END AS {column}"
        for name, (column, kind, current) in FIELDS.items())
    return f"""
INSERT INTO deals_statespan ({COLUMNS})
WITH ev AS (
  SELECT h.deal_id, h.at, 0 AS prio, h.id AS eid, h.id AS history_id, h.kind AS move_kind,
         h.to_stage_id AS stage_id, h.probability, 1 AS sets_probability, 1 AS sets_amount,
         CAST(ROUND(h.amount * 100) AS BIGINT) AS amount_cents, 1 AS sets_currency, h.currency,
         CAST(NULL AS VARCHAR(30)) AS field, CAST(NULL AS VARCHAR(100)) AS old_value,
         CAST(NULL AS VARCHAR(100)) AS new_value
  FROM deals_stagehistory h WHERE {deals.format(deal="h.deal_id")}
  UNION ALL
  SELECT f.deal_id, f.at, 1, f.id, NULL, '', NULL,
         CASE WHEN f.field = 'probability_override' THEN CAST(NULLIF(NULLIF(f.new_value, ''), 'None') AS INTEGER) END,
         CASE WHEN f.field = 'probability_override' THEN 1 ELSE 0 END,
         CASE WHEN f.field = 'amount' THEN 1 ELSE 0 END,
         CASE WHEN f.field = 'amount' THEN {_cents('f.new_value')} END,
         CASE WHEN f.field = 'currency' THEN 1 ELSE 0 END,
         CASE WHEN f.field = 'currency' THEN f.new_value END,
         f.field, f.old_value, f.new_value
  FROM deals_fieldchange f
  WHERE {deals.format(deal="f.deal_id")}
    AND f.field IN ('amount', 'currency', 'probability_override', {", ".join(f"'{name}'" for name in FIELDS)})
),
l1 AS (
  SELECT ev.*,
    COUNT(stage_id) OVER {running} AS n_stage,
    SUM(sets_probability) OVER {running} AS n_probability,
    SUM(sets_amount) OVER {running} AS n_amount,
    SUM(sets_currency) OVER {running} AS n_currency,
    {field_counts},
    LEAD(at) OVER ({order}) AS next_at,
    MIN(CASE WHEN prio = 0 THEN at END) OVER ({order} ROWS BETWEEN 1 FOLLOWING AND UNBOUNDED FOLLOWING)
      AS next_move_at
  FROM ev
),
l2 AS (
  SELECT l1.*,
    MAX(stage_id) OVER (PARTITION BY deal_id, n_stage) AS cur_stage_id,
    MAX(CASE WHEN prio = 0 THEN at END) OVER (PARTITION BY deal_id, n_stage) AS cur_stage_at,
    MAX(probability) OVER (PARTITION BY deal_id, n_probability) AS cur_probability,
    MAX(amount_cents) OVER (PARTITION BY deal_id, n_amount) AS cur_amount,
    MAX(currency) OVER (PARTITION BY deal_id, n_currency) AS cur_currency,
    {field_values}
  FROM l1
),
spans AS (
  SELECT l2.deal_id, d.pipeline_id, d.created_at, l2.at AS starts_at, COALESCE(l2.next_at, %(forever)s) AS ends_at,
    l2.history_id, l2.move_kind, l2.cur_stage_id AS stage_id, st.kind AS stage_kind, st.position AS stage_position,
    l2.cur_stage_at AS stage_entered_at, l2.next_move_at, l2.at, l2.eid, l2.prio,
    COALESCE(l2.cur_probability, st.probability) AS probability, l2.cur_amount AS amount_cents,
    l2.cur_currency AS currency,
    {field_finals}
  FROM l2 JOIN deals_deal d ON d.id = l2.deal_id JOIN pipelines_stage st ON st.id = l2.cur_stage_id
  WHERE l2.n_stage > 0
)
SELECT deal_id, pipeline_id, created_at, starts_at, ends_at, history_id, move_kind, stage_id, stage_kind,
  stage_position, stage_entered_at, next_move_at,
  CASE WHEN history_id IS NOT NULL AND stage_kind = 'open' THEN (
    SELECT MIN(x.at) FROM deals_stagehistory x JOIN pipelines_stage xs ON xs.id = x.to_stage_id
    WHERE x.deal_id = spans.deal_id AND (x.at > spans.at OR (x.at = spans.at AND x.id > spans.eid))
      AND (xs.kind = 'won' OR (xs.kind = 'open' AND xs.position > spans.stage_position))
  ) END AS next_advance_at,
  probability, amount_cents, currency, close_date, forecast_category, owner_id, team_id,
  LAG(stage_id) OVER w, COALESCE(LAG(stage_kind) OVER w, ''), LAG(stage_entered_at) OVER w,
  LAG(amount_cents) OVER w, COALESCE(LAG(currency) OVER w, ''), LAG(owner_id) OVER w, LAG(team_id) OVER w,
  MIN(CASE WHEN history_id IS NOT NULL AND stage_kind = 'won' THEN at END) OVER later,
  MIN(CASE WHEN history_id IS NOT NULL AND stage_kind = 'lost' THEN at END) OVER later,
  MIN(CASE WHEN move_kind = 'reopened' THEN at END) OVER later,
  CASE WHEN history_id IS NOT NULL THEN MAX(CASE WHEN history_id IS NOT NULL THEN at END) OVER (
    PARTITION BY deal_id, stage_id ORDER BY at, prio, eid ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) END
FROM spans
WINDOW w AS (PARTITION BY deal_id ORDER BY at, prio, eid),
  later AS (PARTITION BY deal_id ORDER BY at, prio, eid ROWS BETWEEN 1 FOLLOWING AND UNBOUNDED FOLLOWING)
ORDER BY pipeline_id, starts_at, deal_id, prio, eid"""


# Spans that never end ("FOREVER") carry this instant as their end, so "the span holding instant T"
# is a plain range test (starts_at < T <= ends_at) that an index on ends_at can answer.
FOREVER_AT = dt.datetime(9999, 12, 31, tzinfo=dt.timezone.utc)


def stored_timestamp(value: dt.datetime) -> Any:
    """A timestamp parameter in the form the backend stores it (SQLite keeps naive UTC text), for raw SQL."""
    adapted = connection.ops.adapt_datetimefield_value(value)
    return adapted if connection.vendor == "postgresql" else str(adapted)


# Events older than this when written are "backdated": figures cached for past cutoffs must hear of them.
LIVE_WINDOW = dt.timedelta(minutes=1)


def refresh_spans(deal_ids: Iterable[int] | None = None, *, pipeline_id: int | None = None,
                  id_range: tuple[int, int] | None = None, changed_from: dt.datetime | None = None) -> None:
    """Recompute the spans of these deals (of a pipeline; with ids lo < id <= hi; of every deal).

    `changed_from`: the earliest event that is new since the last refresh (None: unknown).
    """
    if deal_ids is not None:
        deal_ids = sorted({int(i) for i in deal_ids})
        if not deal_ids:
            return
    if changed_from is None or changed_from < timezone.now() - LIVE_WINDOW:
        SpanRewrite.objects.create(changed_from=changed_from)
    if id_range is not None:
        _refresh("{deal} > %s AND {deal} <= %s", list(id_range))
        return
    if deal_ids is not None:
        for start in range(0, len(deal_ids), 500):
            _refresh_listed(deal_ids[start:start + 500])
        return
    with connection.cursor() as cursor:  # a wholesale rebuild often follows a bulk load: fresh statistics
        for table in ("deals_deal", "deals_stagehistory", "deals_fieldchange"):
            cursor.execute(f"ANALYZE {table}")
    if pipeline_id is not None:
        _refresh("{deal} IN (SELECT p.id FROM deals_deal p WHERE p.pipeline_id = %s)", [pipeline_id])
    else:
        _refresh("1 = 1", [])


def append_spans(row: Any) -> None:
    """Bring one deal's spans up to date after one new history row (AppendOnlyModel.save).

    A live move (a stage row later than every event the deal has) appends its own span and closes
    the ones before it: three statements and a handful of rows however long the history is (issue
    #16; rebuilding read the whole history on every move). Anything else (a field change, a
    backdated row, spans that disagree with the deal row) rebuilds the deal's spans."""
    from dealgate.deals.models import StageHistory

    if isinstance(row, StageHistory) and row.at >= timezone.now() - LIVE_WINDOW and _append_move(row):
        return
    refresh_spans([row.deal_id], changed_from=row.at)


# The new span, computed in the database from the deal's current span (s), the deal row (d) and
# the new stage (st). A move keeps the carried fields from the span before it; the deal row must
# agree with that span on them (and on pipeline and creation), or a rebuild would give other values.
_APPEND_SQL = """
INSERT INTO deals_statespan ({columns})
SELECT s.deal_id, s.pipeline_id, s.created_at, %(at)s, s.ends_at, %(history)s, %(move_kind)s, st.id, st.kind,
  st.position, %(at)s, NULL, NULL, %(probability)s, %(amount)s, %(currency)s, s.close_date, s.forecast_category,
  s.owner_id, s.team_id, s.stage_id, s.stage_kind, s.stage_entered_at, s.amount_cents, s.currency, s.owner_id,
  s.team_id, NULL, NULL, NULL,
  (SELECT MAX(x.starts_at) FROM deals_statespan x
   WHERE x.deal_id = s.deal_id AND x.stage_id = st.id AND x.history_id IS NOT NULL)
FROM deals_statespan s JOIN deals_deal d ON d.id = s.deal_id JOIN pipelines_stage st ON st.id = %(stage)s
WHERE s.deal_id = %(deal)s AND s.ends_at = %(forever)s AND s.starts_at < %(at)s
  AND s.pipeline_id = d.pipeline_id AND s.created_at = d.created_at AND s.close_date {same} d.expected_close_date
  AND s.forecast_category = d.forecast_category AND s.owner_id {same} d.owner_id AND s.team_id {same} d.team_id
  AND (SELECT COUNT(*) FROM deals_statespan c WHERE c.deal_id = s.deal_id AND c.ends_at = %(forever)s) = 1
RETURNING stage_kind, stage_position"""

# The spans before it: the current one ends, and each "next ..." still empty that this move fills.
_CLOSE_SQL = """
UPDATE deals_statespan SET
  ends_at = CASE WHEN ends_at = %(forever)s THEN %(at)s ELSE ends_at END,
  next_move_at = COALESCE(next_move_at, %(at)s),
  next_advance_at = CASE WHEN {advanced} THEN %(at)s ELSE next_advance_at END,
  next_won_at = CASE WHEN %(won)s = 1 AND next_won_at IS NULL THEN %(at)s ELSE next_won_at END,
  next_lost_at = CASE WHEN %(lost)s = 1 AND next_lost_at IS NULL THEN %(at)s ELSE next_lost_at END,
  next_reopen_at = CASE WHEN %(reopened)s = 1 AND next_reopen_at IS NULL THEN %(at)s ELSE next_reopen_at END
WHERE deal_id = %(deal)s AND starts_at < %(at)s AND (ends_at = %(forever)s OR next_move_at IS NULL OR {advanced}
  OR (%(won)s = 1 AND next_won_at IS NULL) OR (%(lost)s = 1 AND next_lost_at IS NULL)
  OR (%(reopened)s = 1 AND next_reopen_at IS NULL))"""
_ADVANCED = ("(next_advance_at IS NULL AND history_id IS NOT NULL AND stage_kind = 'open' "
             "AND (%(kind)s = 'won' OR (%(kind)s = 'open' AND stage_position < %(position)s)))")


def _append_move(row: Any) -> bool:
    """Append the span a new stage row begins; False (nothing written) when only a rebuild is exact.

    Exact when the row is later than the deal's current span and that span agrees with the deal row
    on what a rebuild would take from it (pipeline, creation, and each carried field's value when no
    change of it was ever logged). Two statements, computed in the database: an INSERT ... SELECT of
    the new span, then one UPDATE of the spans before it. tests/core/test_state_spans.py holds the
    result to a full rebuild."""
    at = stored_timestamp(row.at)
    params = {"at": at, "forever": stored_timestamp(FOREVER_AT), "deal": row.deal_id, "stage": row.to_stage_id,
              "history": row.pk, "move_kind": row.kind, "probability": row.probability,
              "amount": _cents_of(row.amount), "currency": row.currency}
    same = "IS NOT DISTINCT FROM" if connection.vendor == "postgresql" else "IS"
    with transaction.atomic(savepoint=False), connection.cursor() as cursor:
        cursor.execute(_APPEND_SQL.format(columns=COLUMNS, same=same), params)
        appended = cursor.fetchall()
        if not appended:
            return False
        kind, position = appended[0]
        cursor.execute(_CLOSE_SQL.format(advanced=_ADVANCED), {
            "at": at, "forever": params["forever"], "deal": row.deal_id, "kind": kind, "position": position,
            "won": int(kind == "won"), "lost": int(kind == "lost"), "reopened": int(row.kind == "reopened")})
    return True


def vacuum_spans() -> None:
    """After a bulk write of spans. PostgreSQL answers analytics from its covering indexes without
    visiting the table only for pages its visibility map marks all-visible, which VACUUM does
    (autovacuum would, later, where it is on). Not inside a transaction, where VACUUM cannot run."""
    if connection.vendor == "postgresql" and not connection.in_atomic_block:
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE deals_statespan")


def _refresh(condition: str, values: list) -> None:
    """Delete and re-insert the spans of the deals matching `condition` ({deal}: the id column)."""
    # The condition uses positional %s; the big query names its parameters, so rename them there.
    parts = condition.split("%s")
    named = "".join(part + (f"%(v{i})s" if i < len(parts) - 1 else "") for i, part in enumerate(parts))
    params = {"forever": stored_timestamp(FOREVER_AT), **{f"v{i}": value for i, value in enumerate(values)}}
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("DELETE FROM deals_statespan WHERE " + condition.format(deal="deal_id"), values)
        cursor.execute(_insert_sql(named), params)


# --- the same projection in Python, for a list of deals -----------------------------------------

SPAN_FIELDS = [name.strip() for name in COLUMNS.split(",")]
CHANGES = ("amount", "currency", "probability_override", *FIELDS)
CURRENT = {"close_date": "expected_close_date", "forecast_category": "forecast_category",
           "owner_id": "owner_id", "team_id": "team_id"}


def _cents_of(value: Any) -> int | None:
    if value is None or value == "":
        return None
    return int((Decimal(str(value)) * 100).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def _read(column: str, text: str) -> Any:
    if text in ("", "None"):
        return None
    if column == "close_date":
        return dt.date.fromisoformat(text)
    if column in ("owner_id", "team_id"):
        return int(text)
    return text


def project(deal: dict[str, Any], moves: list[tuple], changes: list[tuple],
            stages: dict[int, tuple[str, int]]) -> list[tuple]:
    """A deal's spans as tuples in SPAN_FIELDS order.

    deal: id, pipeline_id, created_at and the current expected_close_date, forecast_category,
    owner_id, team_id. moves: (at, id, kind, to_stage_id, probability, amount, currency).
    changes: (at, id, field, old_value, new_value). stages: id -> (kind, position, configured probability).
    """
    events = sorted([(m[0], 0, m[1], m) for m in moves] + [(c[0], 1, c[1], c) for c in changes])
    # A field's value before its first logged change is that change's old value.
    first_old = {}
    for _, prio, _, event in events:
        if prio == 1 and event[2] in FIELDS and FIELDS[event[2]][0] not in first_old:
            first_old[FIELDS[event[2]][0]] = _read(FIELDS[event[2]][0], event[3])
    values = {column: first_old.get(column, deal[CURRENT[column]]) for column in CURRENT}
    stage = probability = stage_at = amount = currency = None
    rows: list[dict[str, Any]] = []
    for at, prio, eid, event in events:
        if prio == 0:
            _, _, kind, stage, probability, raw_amount, currency = event
            stage_at, amount = at, _cents_of(raw_amount)
        elif event[2] == "amount":
            amount = _cents_of(event[4])
        elif event[2] == "currency":
            currency = event[4]
        elif event[2] == "probability_override":
            # the override until the next move; cleared: the stage's configured probability
            probability = None if event[4] in ("", "None") else int(event[4])
        else:
            values[FIELDS[event[2]][0]] = _read(FIELDS[event[2]][0], event[4])
        if stage is None:
            continue  # no stage row yet: the deal did not exist
        kind_of, position, configured = stages[stage]
        rows.append({
            "starts_at": at, "history_id": eid if prio == 0 else None, "move_kind": event[2] if prio == 0 else "",
            "stage_id": stage, "stage_kind": kind_of, "stage_position": position, "stage_entered_at": stage_at,
            "probability": configured if probability is None else probability, "amount_cents": amount,
            "currency": currency, **values,
        })
    spans = []
    entered: dict[int, dt.datetime] = {}  # stage id -> the deal's latest entry so far
    for i, row in enumerate(rows):
        later = rows[i + 1:]
        moves_after = [r for r in later if r["history_id"] is not None]
        prev = rows[i - 1] if i else {}
        advance = None
        if row["history_id"] is not None and row["stage_kind"] == "open":
            advance = next((r["starts_at"] for r in moves_after if r["stage_kind"] == "won" or (
                r["stage_kind"] == "open" and r["stage_position"] > row["stage_position"])), None)
        full = {
            **row, "deal_id": deal["id"], "pipeline_id": deal["pipeline_id"], "created_at": deal["created_at"],
            "ends_at": later[0]["starts_at"] if later else FOREVER_AT,
            "next_move_at": moves_after[0]["starts_at"] if moves_after else None, "next_advance_at": advance,
            "prev_stage_id": prev.get("stage_id"), "prev_stage_kind": prev.get("stage_kind", ""),
            "prev_stage_entered_at": prev.get("stage_entered_at"), "prev_amount_cents": prev.get("amount_cents"),
            "prev_currency": prev.get("currency", ""), "prev_owner_id": prev.get("owner_id"),
            "prev_team_id": prev.get("team_id"),
            "next_won_at": next((r["starts_at"] for r in moves_after if r["stage_kind"] == "won"), None),
            "next_lost_at": next((r["starts_at"] for r in moves_after if r["stage_kind"] == "lost"), None),
            "next_reopen_at": next((r["starts_at"] for r in moves_after if r["move_kind"] == "reopened"), None),
            "prev_entry_at": entered.get(row["stage_id"]) if row["history_id"] is not None else None,
        }
        if row["history_id"] is not None:
            entered[row["stage_id"]] = row["starts_at"]
        spans.append(tuple(full[name] for name in SPAN_FIELDS))
    return spans


def _refresh_listed(deal_ids: list[int]) -> None:
    """Four statements whatever the number of deals: moves (with their deal and stage), changes,
    delete, insert."""
    from dealgate.deals.models import FieldChange, StageHistory, StateSpan

    deals: dict[int, dict[str, Any]] = {}
    moves: dict[int, list[tuple]] = {}
    stages: dict[int, tuple[str, int]] = {}
    for row in StageHistory.objects.filter(deal_id__in=deal_ids).values_list(
            "deal_id", "at", "id", "kind", "to_stage_id", "probability", "amount", "currency",
            "to_stage__kind", "to_stage__position", "to_stage__probability",
            *(f"deal__{name}" for name in DEAL_COLUMNS)):
        pk = row[0]
        moves.setdefault(pk, []).append(row[1:8])
        stages[row[4]] = (row[8], row[9], row[10])
        if pk not in deals:
            deals[pk] = {"id": pk, **dict(zip(DEAL_COLUMNS, row[11:]))}
    changes: dict[int, list[tuple]] = {}
    for row in FieldChange.objects.filter(deal_id__in=deal_ids, field__in=CHANGES).values_list(
            "deal_id", "at", "id", "field", "old_value", "new_value"):
        changes.setdefault(row[0], []).append(row[1:])
    with transaction.atomic():
        StateSpan.objects.filter(deal_id__in=deal_ids).delete()
        _write(deals, moves, changes, stages)


DEAL_COLUMNS = ("pipeline_id", "created_at", *CURRENT.values())


def write_new_deals(deals: dict[int, dict[str, Any]], moves: dict[int, list[tuple]]) -> None:
    """Spans of deals that a bulk loader has just created, from the rows it has in hand (no
    field changes yet, nothing to delete): reading them back would cost more than writing them.

    deals: id -> DEAL_COLUMNS values; moves: id -> (at, history id, kind, to_stage_id, probability,
    amount, currency) rows, as `project` takes them."""
    from dealgate.pipelines.models import Stage

    if not deals:
        return
    SpanRewrite.objects.create(changed_from=None)
    stage_ids = {move[3] for rows in moves.values() for move in rows}
    stages = {pk: (kind, position, probability) for pk, kind, position, probability in
              Stage.objects.filter(pk__in=stage_ids).values_list("pk", "kind", "position", "probability")}
    _write(deals, moves, {}, stages)


def _write(deals: dict[int, dict[str, Any]], moves: dict[int, list[tuple]], changes: dict[int, list[tuple]],
           stages: dict[int, tuple[str, int]]) -> None:
    from dealgate.deals.bulk import BulkWriter
    from dealgate.deals.models import StateSpan

    BulkWriter(StateSpan, SPAN_FIELDS).insert(
        span for pk, deal in deals.items()
        for span in project({**deal, "id": pk}, moves[pk], changes.get(pk, []), stages))


# --- the deal's own stage, from the same history -------------------------------------------------


def repair_current_stages(*, pipeline_id: int | None = None) -> list[int]:
    """Put every deal whose current stage is not the one its latest history row (by time, then id)
    entered back in that stage, with the entry time and closed state that row gives; returns their ids.

    The history is the record and the spans are read from it; a deal row that disagrees (a backdated
    move written before imports refused them, a hand edit of the database) would show one stage on
    the board and another in every figure. `dealgate spans --rebuild` runs this first."""
    from django.db.models import F, OuterRef, Subquery

    from dealgate.deals.models import Deal, StageHistory
    from dealgate.pipelines.models import StageKind

    latest = StageHistory.objects.filter(deal_id=OuterRef("pk")).order_by("-at", "-id")
    deals = Deal.objects.annotate(history_stage=Subquery(latest.values("to_stage_id")[:1]),
                                  history_at=Subquery(latest.values("at")[:1]))
    if pipeline_id is not None:
        deals = deals.filter(pipeline_id=pipeline_id)
    wrong = list(deals.exclude(history_stage=None).exclude(stage_id=F("history_stage"))
                 .values_list("pk", "history_stage", "history_at"))
    if not wrong:
        return []
    from dealgate.pipelines.models import Stage

    kinds = dict(Stage.objects.filter(pk__in={stage for _, stage, _ in wrong}).values_list("pk", "kind"))
    with transaction.atomic():
        for pk, stage_id, at in wrong:
            closed = kinds[stage_id] != StageKind.OPEN
            changes = {"stage_id": stage_id, "stage_entered_at": at, "closed_at": at if closed else None,
                       "version": F("version") + 1}
            if kinds[stage_id] != StageKind.LOST:
                changes.update(lost_reason=None, lost_note="")
            Deal.objects.filter(pk=pk).update(**changes)
        refresh_spans([pk for pk, _, _ in wrong])
    return [pk for pk, _, _ in wrong]
