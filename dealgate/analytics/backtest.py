"""Backtest: each method's forecast made at the start of a past period against what was won in it."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from dealgate.analytics import formulas
from dealgate.analytics.forecast import METHODS, Settings, forecast
from dealgate.analytics.history import Scope
from dealgate.analytics.metrics import outcomes
from dealgate.analytics.periods import Period
from dealgate.analytics.together import together


def column(method: str) -> str:
    """Row key of a method ("time-aware" -> "time_aware"), so templates can read it."""
    return method.replace("-", "_")


def backtest(scope: Scope, periods: list[Period], cutoff: dt.datetime, methods: tuple[str, ...] = METHODS,
             config: Settings = Settings()) -> dict[str, Any]:
    """Per period: the forecast as of the period's start (only what was known then) and the amount
    actually won in it (as known at `cutoff`); per method: MAPE and bias over the periods."""
    # Every period's forecast and outcome at once (dealgate.analytics.together).
    computed = together(*(call for period in periods for call in (
        lambda period=period: forecast(scope, period, period.start, methods, config),
        lambda period=period: outcomes(scope, period, cutoff)["won_amount"])))
    rows = []
    for period, made, actual in zip(periods, computed[::2], computed[1::2]):
        rows.append({
            "period": period.label, "actual": actual,
            **{column(m): made["methods"][m]["expected"] for m in methods},
            **({"p10": made["methods"]["time-aware"]["p10"], "p90": made["methods"]["time-aware"]["p90"]}
               if "time-aware" in methods else {}),
        })
    summary = {}
    for method in methods:
        pairs = [(row[column(method)], row["actual"]) for row in rows]
        summary[method] = {"mape": formulas.mape(pairs), "bias": formulas.bias(pairs)}
    if "time-aware" in methods:
        inside = [r for r in rows if r["actual"] and r["p10"] <= r["actual"] <= r["p90"]]
        summary["time-aware"]["range_hit_rate"] = formulas.ratio(len(inside), len([r for r in rows if r["actual"]]))
    return {"rows": rows, "summary": summary, "total_actual": sum((r["actual"] for r in rows), Decimal("0.00"))}
