"""Per-stage statistics learned from the stage history (read-only).

A *stay* in a stage starts with the history row that entered it and ends with the next history
row of the same deal; a stay with no next row is still running and is not counted. Durations are
in days (fractional). The "slow" side of the time flag compares a deal's age in its stage with the 90th
percentile of the stays that ended with the pipeline's latest moves (`latest_moves`, so the cost
does not grow with the history); analytics reports the same kind of durations as time in stage.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction
from typing import Iterable, Sequence

from django.db import connection

# Percentiles travel into SQL as whole parts per million, so the row selection is exact integer
# arithmetic on every database (no float rounding deciding which row is the 90th percentile).
_SCALE = 1_000_000

_DAYS_BETWEEN = {
    "sqlite": "(julianday({end}) - julianday({start}))",
    "postgresql": "(EXTRACT(EPOCH FROM ({end} - {start})) / 86400.0)",
}


@dataclass(frozen=True)
class StageDurations:
    """Finished stays of one stage: how many, and their duration percentiles in days."""

    stage_id: int
    stays: int
    percentiles: dict[float, float]
    pipeline_id: int = 0

    def days_at(self, percentile: float) -> float:
        return self.percentiles[percentile]


def _scaled(percentile: float) -> int:
    if not 0 <= percentile <= 1:
        raise ValueError(f"a percentile is a fraction between 0 and 1, not {percentile!r}")
    return round(percentile * _SCALE)


def _duration_sql(start: str, end: str) -> str:
    try:
        template = _DAYS_BETWEEN[connection.vendor]
    except KeyError:
        raise NotImplementedError(f"stage durations are not written for {connection.vendor}") from None
    return template.format(start=start, end=end)


def stage_duration_percentiles(
    pipeline_ids: Iterable[int], percentiles: Sequence[float] = (0.5, 0.75, 0.9), *, latest_moves: int | None = None
) -> dict[int, StageDurations]:
    """Duration percentiles (linear interpolation, like PostgreSQL's percentile_cont) per stage.

    One query for any number of pipelines and deals. `latest_moves` bounds the work: only stays
    that ended with one of each pipeline's latest N history rows count (None: the whole history).
    Picking stays by when they ended does not favour short ones (picking them by when they started
    would: the long stays begun recently have not ended yet). The database orders each stage's
    stays and returns only the (at most two) rows around each requested percentile; Python
    interpolates between them. Stages without a finished stay are absent from the answer.
    """
    from dealgate.deals.models import StageHistory
    from dealgate.pipelines.models import Stage

    pipeline_ids = sorted(set(pipeline_ids))
    if not pipeline_ids:
        return {}
    if latest_moves is not None and latest_moves < 1:
        raise ValueError(f"latest_moves counts history rows and must be at least 1, not {latest_moves!r}")
    scaled = {p: _scaled(p) for p in percentiles}
    around_percentile = " OR ".join(
        f"({_SCALE} * k > %s * last_k - {_SCALE} AND {_SCALE} * k < %s * last_k + {_SCALE})" for _ in scaled
    ) or "1 = 0"
    history, stages = StageHistory._meta.db_table, Stage._meta.db_table

    def rows_of_pipelines(test: str) -> str:  # a deal's rows all lead into stages of its one pipeline
        return f"h.to_stage_id IN (SELECT s.id FROM {stages} s WHERE s.pipeline_id {test})"

    if latest_moves is None:
        ending = ""
        whose_moves = rows_of_pipelines(f"IN ({', '.join(['%s'] * len(pipeline_ids))})")
        which_ends = ""
    else:
        # Each pipeline's newest rows as its own derived table (SQLite allows no LIMIT on a bare
        # UNION member). A row ends the stay that its deal's previous row began.
        ending = "ending AS ({}),".format(" UNION ALL ".join(
            f"""SELECT * FROM (SELECT h.id, h.deal_id FROM {history} h WHERE {rows_of_pipelines("= %s")}
                ORDER BY h.at DESC, h.id DESC LIMIT {int(latest_moves)}) AS pipeline_{n}"""
            for n in range(len(pipeline_ids))
        ))
        whose_moves = "h.deal_id IN (SELECT deal_id FROM ending)"
        which_ends = "AND id IN (SELECT id FROM ending)"
    sql = f"""
        WITH {ending}
        moves AS (
            SELECT h.id, h.at AS left_at,
                   LAG(h.to_stage_id) OVER by_deal AS stage_id, LAG(h.at) OVER by_deal AS entered_at
            FROM {history} h
            WHERE {whose_moves}
            WINDOW by_deal AS (PARTITION BY h.deal_id ORDER BY h.at, h.id)
        ),
        stays AS (
            SELECT stage_id, {_duration_sql("entered_at", "left_at")} AS days
            FROM moves WHERE entered_at IS NOT NULL {which_ends}
        ),
        ranked AS (
            SELECT stage_id, days,
                   ROW_NUMBER() OVER (PARTITION BY stage_id ORDER BY days) - 1 AS k,
                   COUNT(*) OVER (PARTITION BY stage_id) - 1 AS last_k
            FROM stays
        )
        SELECT ranked.stage_id, s.pipeline_id, k, last_k, days
        FROM ranked JOIN {stages} s ON s.id = ranked.stage_id
        WHERE {around_percentile}
        ORDER BY ranked.stage_id, k
    """
    params: list[int] = list(pipeline_ids)
    for value in scaled.values():
        params += [value, value]
    rows_by_stage: dict[int, tuple[int, int, dict[int, float]]] = {}
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        for stage_id, pipeline_id, k, last_k, days in cursor.fetchall():
            rows_by_stage.setdefault(stage_id, (int(last_k), pipeline_id, {}))[2][int(k)] = float(days)
    return {
        stage_id: StageDurations(
            stage_id=stage_id,
            stays=last_k + 1,
            percentiles={p: _interpolate(sorted_days, last_k, scaled[p]) for p in percentiles},
            pipeline_id=pipeline_id,
        )
        for stage_id, (last_k, pipeline_id, sorted_days) in rows_by_stage.items()
    }


def _interpolate(days_at_rank: dict[int, float], last_k: int, scaled_percentile: int) -> float:
    position = Fraction(scaled_percentile * last_k, _SCALE)
    low, high = math.floor(position), math.ceil(position)
    below, above = days_at_rank[low], days_at_rank[high]
    return below + (above - below) * float(position - low)


STATS_CACHE_SECONDS = 600


def cached_stage_duration_percentiles(
    pipeline_ids: Iterable[int], percentiles: Sequence[float] = (0.5, 0.75, 0.9), *, latest_moves: int | None = None
) -> dict[int, StageDurations]:
    """`stage_duration_percentiles`, remembered per pipeline for ten minutes.

    Every board load needs the stuck threshold. With `latest_moves` bounding the query, a refresh
    costs about the same at any history size; the cache spares even that on all but one request in
    ten minutes. A threshold that is ten minutes old is still the same 90th percentile for
    practical purposes; fresh history reaches it on the next refresh.
    """
    from django.core.cache import cache

    window = "all" if latest_moves is None else str(latest_moves)
    key_of = {pid: f"dealgate:stage-durations:{pid}:{','.join(map(str, percentiles))}:{window}"
              for pid in set(pipeline_ids)}
    found = cache.get_many(list(key_of.values()))
    missing = [pid for pid, key in key_of.items() if key not in found]
    answer: dict[int, StageDurations] = {}
    for pid in key_of:
        if pid not in missing:
            answer.update(found[key_of[pid]])
    if missing:
        fresh = stage_duration_percentiles(missing, percentiles, latest_moves=latest_moves)
        per_pipeline: dict[int, dict[int, StageDurations]] = {pid: {} for pid in missing}
        for stage_id, durations in fresh.items():
            per_pipeline[durations.pipeline_id][stage_id] = durations
        cache.set_many({key_of[pid]: value for pid, value in per_pipeline.items()}, STATS_CACHE_SECONDS)
        answer.update(fresh)
    return answer
