"""How each account buys, as of a date, computed in SQL with window functions (SQLite >= 3.25 and PostgreSQL).

One query per grain (account, account x product line, account x product) returns one row per unit:
its order days, the gaps between them (LAG), the median and quartiles of its most recent gaps (the
typical gap, robust to an odd long pause and weighted to the recent past by taking only the last
`recent_gaps`), its typical order size, and its order count and revenue in a recent window against
the trailing baseline before it. Orders on `as_of` or later are never read.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from dataclasses import asdict, dataclass, replace
from typing import Any

from django.conf import settings
from django.db import connection, transaction

EPOCH = dt.date(1970, 1, 1)
SORT_MEMORY = "256MB"  # PostgreSQL work_mem for the cadence queries (per sort, set for their transaction only)
GRAINS = {"account": ("account_id",), "line": ("account_id", "product_line"), "product": ("account_id", "product")}


def day_number(day: dt.date) -> int:
    return (day - EPOCH).days


def from_day_number(number: int) -> dt.date:
    return EPOCH + dt.timedelta(days=int(number))


def day_sql(column: str) -> str:
    """Whole days since 1970-01-01 of a date column, in the database's own dialect."""
    if connection.vendor == "postgresql":
        return f"({column} - DATE '1970-01-01')"
    return f"CAST(julianday({column}) - 2440587.5 AS INTEGER)"


SOURCES = ("rollup", "lines", "kept")  # "lines": the order lines themselves, the reference the rollups must equal;
# "kept": the rollups and the totals the scan keeps (decision 048), valid as of the last scan's date only


def days_sql(grain: str, where: str, source: str) -> str:
    """The `days` CTE body: one row per unit and order day with its revenue and margin, before `as_of`.

    From the rollups (decision 037) for the account and line grains; the product grain reads the lines
    of the units `where` names (`cadences` picks the high-margin ones from the product-month rollup).
    `d` is the date itself: the window functions order by it (recency = count - rank, not a second
    descending order), so PostgreSQL reads the rollup in its unique index's order and sorts nothing."""
    keys = ", ".join(GRAINS[grain])
    if source == "rollup" and grain != "product":
        table = "signals_orderday" if grain == "account" else "signals_orderlineday"
        return f"""SELECT {keys}, day AS d, {day_sql('day')} AS day, revenue, margin FROM {table}
        WHERE day < %(as_of)s{where}"""
    skip_blank = " AND product_line <> ''" if grain == "line" else ""
    return f"""SELECT {keys}, ordered_at AS d, {day_sql('ordered_at')} AS day, SUM(revenue) AS revenue,
            SUM(COALESCE(margin, 0)) AS margin
        FROM signals_orderline
        WHERE ordered_at < %(as_of)s{skip_blank}{where}
        GROUP BY {keys}, ordered_at"""


# A product's margin is high when it is at least %(min_margin_pct)s percent of its revenue, compared in whole
# cents: SQLite sums decimals as floats, so the rollup's sums and the kept totals may differ below a cent
HIGH_MARGIN = "{revenue} > 0 AND ROUND(100 * {margin}) * 100 >= %(min_margin_pct)s * ROUND(100 * {revenue})"


def product_sums_sql(where: str) -> str:
    """Per (account, product): revenue and margin of its lines before `as_of`, from the product-month rollup
    for the months before as_of's and the lines of its month."""
    return f"""SELECT account_id, product, SUM(revenue) AS revenue, SUM(margin) AS margin FROM (
        SELECT account_id, product, revenue, margin FROM signals_productmonth WHERE month < %(month_start)s{where}
        UNION ALL
        SELECT account_id, product, revenue, COALESCE(margin, 0) FROM signals_orderline
        WHERE ordered_at >= %(month_start)s AND ordered_at < %(as_of)s{where}
    ) units GROUP BY account_id, product"""


def keep_sql(where: str, source: str) -> str:
    """The (account, product) units whose margin is high (HIGH_MARGIN) before `as_of`: from the scan's kept
    product totals (decision 054), the rollup (`product_sums_sql`) or the lines."""
    if source == "kept":
        return f"""SELECT account_id, product FROM {PRODUCT_TOTALS}
        WHERE {HIGH_MARGIN.format(revenue="revenue", margin="margin")}{where}"""
    having = "HAVING " + HIGH_MARGIN.format(revenue="SUM(revenue)", margin="SUM(margin)")
    if source == "lines":
        return f"""SELECT account_id, product FROM (SELECT account_id, product, revenue, COALESCE(margin, 0) AS margin
        FROM signals_orderline WHERE ordered_at < %(as_of)s{where}) units GROUP BY account_id, product {having}"""
    return f"SELECT account_id, product FROM ({product_sums_sql(where)}) sums WHERE " + HIGH_MARGIN.format(
        revenue="revenue", margin="margin")


KEPT = {"account": "signals_accounttotal", "line": "signals_linetotal"}  # the scan's kept totals (decision 048)
PRODUCT_TOTALS = "signals_producttotal"  # and its product totals, for the high-margin pick (decision 054)
ROLLUP = {"account": "signals_orderday", "line": "signals_orderlineday"}


def on_alias(where: str, alias: str) -> str:
    """` AND account_id IN (...)` (the accounts a cadence query reads) said of a table's alias."""
    return where.replace(" AND account_id ", f" AND {alias}.account_id ", 1)


def gap_ctes(keys: str) -> str:
    """`ranked` (each order day's gap since the one before and its recency, 1 = the last), `recent_gaps` and
    `gap_stats` (median and quartiles of the last %(recent_gaps)s gaps) over the `days` CTE."""
    return f"""ranked AS (
        SELECT {keys}, day, revenue, margin,
               day - LAG(day) OVER (PARTITION BY {keys} ORDER BY d) AS gap,
               COUNT(*) OVER (PARTITION BY {keys}) - ROW_NUMBER() OVER (PARTITION BY {keys} ORDER BY d) + 1
                   AS recency
        FROM days
    ), recent_gaps AS (
        SELECT {keys}, gap,
               ROW_NUMBER() OVER (PARTITION BY {keys} ORDER BY gap) AS rn,
               COUNT(*) OVER (PARTITION BY {keys}) AS n
        FROM ranked WHERE gap IS NOT NULL AND recency <= %(recent_gaps)s
    ), gap_stats AS (
        SELECT {keys}, MAX(n) AS gaps,
               AVG(CASE WHEN rn = (n + 1) / 2 OR rn = (n + 2) / 2 THEN gap END) AS median_gap,
               MAX(CASE WHEN rn = (n + 3) / 4 THEN gap END) AS q1_gap,
               MAX(CASE WHEN rn = (3 * n + 3) / 4 THEN gap END) AS q3_gap
        FROM recent_gaps GROUP BY {keys}
    )"""


# the recent window's and the baseline's order days and revenue, and their oldest day
WINDOW_SUMS = """SUM(CASE WHEN day >= %(recent_start)s THEN 1 ELSE 0 END) AS recent_orders,
               SUM(CASE WHEN day >= %(recent_start)s THEN revenue ELSE 0 END) AS recent_revenue,
               SUM(CASE WHEN day >= %(baseline_start)s AND day < %(recent_start)s THEN 1 ELSE 0 END) AS baseline_orders,
               SUM(CASE WHEN day >= %(baseline_start)s AND day < %(recent_start)s THEN revenue ELSE 0 END)
                   AS baseline_revenue,
               MIN(CASE WHEN day >= %(recent_start)s THEN day END) AS oldest_recent_day,
               MIN(CASE WHEN day >= %(baseline_start)s AND day < %(recent_start)s THEN day END) AS oldest_baseline_day"""
TYPICAL = "AVG(CASE WHEN recency <= %(recent_gaps)s + 1 THEN revenue END) AS typical_revenue"


def cadence_sql(grain: str, where: str = "", *, source: str = "rollup") -> str:
    """One row per unit with its cadence's figures, from all its order days before `as_of`."""
    if source == "kept":
        return kept_cadence_sql(grain, where)
    keys = ", ".join(GRAINS[grain])
    match = " AND ".join(f"s.{k} = t.{k}" for k in GRAINS[grain])
    return f"""
    WITH days AS (
        {days_sql(grain, where, source)}
    ), {gap_ctes(keys)}, totals AS (
        SELECT {keys}, COUNT(*) AS orders, MIN(day) AS first_day, MAX(day) AS last_day,
               SUM(revenue) AS revenue, SUM(margin) AS margin, {TYPICAL},
               {WINDOW_SUMS}
        FROM ranked GROUP BY {keys}
    )
    SELECT t.*, s.gaps, s.median_gap, s.q1_gap, s.q3_gap
    FROM totals t LEFT JOIN gap_stats s ON {match}
    """


def kept_cadence_sql(grain: str, where: str) -> str:
    """The same figures from the scan's kept totals (decision 048): the whole history's order days, first
    day, revenue and margin from the unit's kept row; the gaps, the last day and the typical order from its
    order days since the kept `read_from` (its last %(recent_gaps)s + 1); the windows' sums from its order
    days since the baseline's start. No unit's whole history is read or sorted."""
    keys = GRAINS[grain]
    columns = ", ".join(keys)

    def match(a: str, b: str) -> str:
        return " AND ".join(f"{a}.{k} = {b}.{k}" for k in keys)

    return f"""
    WITH days AS (
        SELECT {", ".join(f"o.{k}" for k in keys)}, o.day AS d, {day_sql("o.day")} AS day, o.revenue, o.margin
        FROM {KEPT[grain]} k JOIN {ROLLUP[grain]} o ON {match("o", "k")} AND o.day >= k.read_from AND o.day < %(as_of)s
        WHERE 1 = 1{on_alias(where, "k")}
    ), {gap_ctes(columns)}, tail AS (
        SELECT {columns}, MAX(day) AS last_day, {TYPICAL} FROM ranked GROUP BY {columns}
    ), windows AS (
        SELECT {columns}, {WINDOW_SUMS}
        FROM ({days_sql(grain, where + " AND day >= %(baseline_date)s", "rollup")}) w GROUP BY {columns}
    )
    SELECT t.*, k.orders, {day_sql("k.first_day")} AS first_day, k.revenue, k.margin, w.recent_orders,
           w.recent_revenue, w.baseline_orders, w.baseline_revenue, w.oldest_recent_day, w.oldest_baseline_day,
           s.gaps, s.median_gap, s.q1_gap, s.q3_gap
    FROM tail t JOIN {KEPT[grain]} k ON {match("k", "t")}
    LEFT JOIN windows w ON {match("w", "t")}
    LEFT JOIN gap_stats s ON {match("s", "t")}
    """


def kept_totals_sql(grain: str, where: str = "", *, add: bool = False) -> str:
    """The kept totals (decision 048) of the order days `where` names, as of %(as_of)s, from the rollup: an
    aggregate without a sort, and per unit one backward probe of the rollup's unique index for the oldest
    of its last %(tail)s + 1 order days (with fewer: its first day, one forward probe). `add`: added to
    the units' kept rows (the order days since the last scan's date)."""
    keys = GRAINS[grain]
    match = " AND ".join(f"r.{k} = o.{k}" for k in keys)
    table = ROLLUP[grain]
    columns = ", ".join(keys)
    upsert = f"""
    ON CONFLICT ({columns}) DO UPDATE SET orders = {KEPT[grain]}.orders + excluded.orders,
        revenue = {KEPT[grain]}.revenue + excluded.revenue, margin = {KEPT[grain]}.margin + excluded.margin,
        read_from = excluded.read_from""" if add else ""
    return f"""INSERT INTO {KEPT[grain]} ({columns}, orders, first_day, read_from, revenue, margin)
    SELECT {", ".join(f"o.{k}" for k in keys)}, COUNT(*), MIN(o.day),
           COALESCE((SELECT r.day FROM {table} r WHERE {match} AND r.day < %(as_of)s
                     ORDER BY r.day DESC LIMIT 1 OFFSET %(tail)s),
                    (SELECT r.day FROM {table} r WHERE {match} ORDER BY r.day LIMIT 1)),
           SUM(o.revenue), SUM(o.margin)
    FROM {table} o WHERE o.day < %(as_of)s{on_alias(where, "o")}
    GROUP BY {", ".join(f"o.{k}" for k in keys)}{upsert}"""


@dataclass
class Cadence:
    """One unit's buying rhythm as of a date. `has_cadence` is False with too few orders; `reason` says so."""

    account_id: int
    key: str  # product line or product for the finer grains, "" for the account
    as_of: dt.date
    orders: int
    first_order: dt.date
    last_order: dt.date
    revenue: float
    margin: float
    typical_revenue: float
    recent_orders: int
    recent_revenue: float
    baseline_orders: int
    baseline_revenue: float
    has_cadence: bool
    reason: str = ""
    typical_gap: float | None = None
    spread: float | None = None  # interquartile range of the recent gaps, in days
    tolerance: float | None = None
    expected: dt.date | None = None
    band_from: dt.date | None = None
    band_to: dt.date | None = None
    # day numbers of the oldest order day in the recent window and in the baseline (None: none there);
    # they say when the windows next change (`window_change`)
    oldest_recent_day: int | None = None
    oldest_baseline_day: int | None = None

    @property
    def days_since_last(self) -> int:
        return (self.as_of - self.last_order).days

    @property
    def status(self) -> str:
        """on time / late / overdue against the expected next order and its band; "no cadence" without one."""
        if not self.has_cadence or self.typical_gap is None or self.tolerance is None:
            return "no cadence"
        days = self.days_since_last
        if days <= self.typical_gap + self.tolerance:
            return "on time"
        if days > self.typical_gap * thresholds()["missed_factor_pct"] / 100:
            return "overdue"
        return "late"

    def window_change(self) -> dt.date | None:
        """The first later as-of date on which an order leaves the recent window (into the baseline) or
        the baseline: the order counts and revenue of the declines change only then."""
        limits = thresholds()
        edges = [day + limits["recent_days"] + 1 for day in (self.oldest_recent_day,) if day is not None]
        edges += [day + limits["recent_days"] + limits["baseline_days"] + 1
                  for day in (self.oldest_baseline_day,) if day is not None]
        return from_day_number(min(edges)) if edges else None

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        del data["oldest_recent_day"], data["oldest_baseline_day"]
        data.update(status=self.status, days_since_last=self.days_since_last)
        return {k: (v.isoformat() if isinstance(v, dt.date) else v) for k, v in data.items()}


def thresholds() -> dict[str, int]:
    return settings.DEALGATE_SIGNALS


def window_starts(as_of: dt.date) -> tuple[int, int]:
    limits = thresholds()
    recent_start = day_number(as_of) - limits["recent_days"]
    return recent_start, recent_start - limits["baseline_days"]


def cadences(as_of: dt.date, grain: str = "account", *, account_ids: list[int] | None = None,
             min_orders: int | None = None, min_margin_pct: float | None = None,
             source: str = "rollup") -> list[Cadence]:
    """Every unit's cadence as of `as_of` (orders strictly before it), in account order; with
    `min_margin_pct`, only the units whose margin is at least that share of their revenue.
    `source="lines"` computes it from the order lines alone (the reference the rollups must equal)."""
    if source not in SOURCES:
        raise ValueError(f"source must be one of {SOURCES}")
    # the product grain reads the lines of its few high-margin units, which "kept" picks from the kept totals
    cadence_source = "rollup" if source == "kept" and grain not in KEPT else source
    limits = thresholds()
    min_orders = min_orders or (limits["min_orders"] if grain == "account" else limits["line_min_orders"])
    recent_start, baseline_start = window_starts(as_of)
    params: dict[str, Any] = {"as_of": as_of, "recent_gaps": limits["recent_gaps"], "recent_start": recent_start,
                              "baseline_start": baseline_start, "month_start": as_of.replace(day=1),
                              "baseline_date": from_day_number(baseline_start)}
    where = ""
    if account_ids is not None and not account_ids:
        return []
    elif account_ids is not None and connection.vendor == "postgresql":
        # A literal IN list of thousands of ids is planned as a sequential scan of every line; the same
        # ids unnested from an array probe the (account, ordered_at) index (as dealgate.deals.bulk.matching).
        where = " AND account_id IN (SELECT unnest(%(account_ids)s::bigint[]))"
        params["account_ids"] = [int(i) for i in account_ids]
    elif account_ids is not None:
        where = f" AND account_id IN ({', '.join(str(int(i)) for i in account_ids)})"
    with transaction.atomic(), connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # The window functions sort every order day of every unit (millions of rows at 10M lines):
            # with the default 4 MB each sort spills to disk. For this query's transaction only.
            cursor.execute(f"SET LOCAL work_mem = '{SORT_MEMORY}'")
        if min_margin_pct is not None:
            # Only the units that can qualify have their order days read and sorted (usually a few).
            params["min_margin_pct"] = min_margin_pct
            cursor.execute(keep_sql(where, source), params)
            keep = [(int(account_id), product) for account_id, product in cursor.fetchall()]
            if not keep:
                return []
            if connection.vendor == "postgresql":
                where = (" AND (account_id, product) IN (SELECT * FROM unnest(%(keep_accounts)s::bigint[], "
                         "%(keep_products)s::text[]))")
                params["keep_accounts"], params["keep_products"] = [k[0] for k in keep], [k[1] for k in keep]
            else:
                where = (" AND (account_id, product) IN (SELECT json_extract(value, '$[0]'), "
                         "json_extract(value, '$[1]') FROM json_each(%(keep)s))")
                params["keep"] = json.dumps(keep)
        cursor.execute(cadence_sql(grain, where, source=cadence_source), params)
        names = [c[0] for c in cursor.description]
        rows = [dict(zip(names, row)) for row in cursor.fetchall()]
    found = [to_cadence(row, grain, as_of, min_orders) for row in rows]
    return sorted(found, key=lambda c: (c.account_id, c.key))


def to_cadence(row: dict[str, Any], grain: str, as_of: dt.date, min_orders: int) -> Cadence:
    key_column = GRAINS[grain][1] if grain != "account" else None
    cadence = Cadence(
        account_id=row["account_id"], key=row[key_column] if key_column else "", as_of=as_of,
        orders=int(row["orders"]), first_order=from_day_number(row["first_day"]),
        last_order=from_day_number(row["last_day"]), revenue=float(row["revenue"] or 0),
        margin=float(row["margin"] or 0), typical_revenue=round(float(row["typical_revenue"] or 0), 2),
        recent_orders=int(row["recent_orders"] or 0), recent_revenue=float(row["recent_revenue"] or 0),
        baseline_orders=int(row["baseline_orders"] or 0), baseline_revenue=float(row["baseline_revenue"] or 0),
        has_cadence=False, oldest_recent_day=row["oldest_recent_day"], oldest_baseline_day=row["oldest_baseline_day"],
    )
    if cadence.orders < min_orders or row["median_gap"] is None:
        cadence.reason = f"{cadence.orders} order day(s); a cadence needs at least {min_orders}"
        return cadence
    typical = float(row["median_gap"])
    spread = float(row["q3_gap"] - row["q1_gap"])
    tolerance = math.ceil(max(spread, typical * 0.25, 1.0))
    expected = cadence.last_order + dt.timedelta(days=round(typical))
    cadence.has_cadence = True
    cadence.typical_gap, cadence.spread, cadence.tolerance = typical, spread, float(tolerance)
    cadence.expected = expected
    cadence.band_from = expected - dt.timedelta(days=tolerance)
    cadence.band_to = expected + dt.timedelta(days=tolerance)
    return cadence


def since_win(cadence: Cadence, won_on: dt.date) -> Cadence:
    """The cadence counted from a win (distributor stage 5, retention): the win is the last order when
    the account has not ordered since, so "on time / late / overdue" says whether it reordered on schedule."""
    if not cadence.has_cadence or cadence.typical_gap is None or cadence.tolerance is None or won_on <= cadence.last_order:
        return cadence
    expected = won_on + dt.timedelta(days=round(cadence.typical_gap))
    tolerance = dt.timedelta(days=cadence.tolerance)
    return replace(cadence, last_order=won_on, expected=expected, band_from=expected - tolerance,
                   band_to=expected + tolerance)


def cadence_of(account_id: int, as_of: dt.date) -> Cadence | None:
    """One account's cadence (None when it has no order before `as_of`)."""
    found = cadences(as_of, account_ids=[account_id])
    return found[0] if found else None
