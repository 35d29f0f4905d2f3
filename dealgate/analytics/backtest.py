"""Backtest: each method's forecast made at the start of a past period against what was won in it."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from dealgate.analytics import formulas
from dealgate.analytics.cache import figure
from dealgate.analytics.forecast import METHODS, Settings, forecast
from dealgate.analytics.history import Scope
from dealgate.analytics.metrics import won_amounts
from dealgate.analytics.periods import Period, period_containing
from dealgate.analytics.together import together


def column(method: str) -> str:
    """Row key of a method ("time-aware" -> "time_aware"), so templates can read it."""
    return method.replace("-", "_")


LABELS = {"weighted": "Weighted", "historical": "Historical", "time-aware": "Time-aware"}


def recent_periods(cutoff: dt.datetime, months: int) -> list[Period]:
    """The periods a forecast is judged on: the last 6 months (or 4 quarters) before the cutoff's."""
    return [period_containing(cutoff.date(), months).shifted(-step) for step in range(6 if months == 1 else 4, 0, -1)]


def recommend(tested: dict[str, Any], months: int) -> dict[str, Any]:
    """The method whose forecasts were closest to what was won in the recent backtest (lowest MAPE;
    ties go to the simpler method), and why, in a sentence. Without a past period with wins to judge
    on: time-aware, which needs no close dates."""
    unit = "months" if months == 1 else "quarters"
    judged = [r for r in tested["rows"] if r["actual"]]
    scored = [(s["mape"], METHODS.index(m), m) for m, s in tested["summary"].items() if s["mape"] is not None]
    if not scored:
        method = "time-aware" if "time-aware" in tested["summary"] else next(iter(tested["summary"]))
        return {"method": method, "mape": None, "periods": 0,
                "why": f"No recent {unit} with wins to compare the methods on yet: showing {LABELS[method].lower()}"
                       + (", which needs no close dates." if method == "time-aware" else ".")}
    mape, _, method = min(scored)
    why = (f"{LABELS[method]} was closest over the last {len(judged)} {unit if len(judged) != 1 else unit[:-1]}: "
           f"off by {mape:.0%} on average.")
    coverage = tested["summary"].get("time-aware", {}).get("coverage")
    if method == "time-aware" and coverage is not None:
        inside = round(coverage * len(judged))
        why += f" Its range held what was won in {inside} of {len(judged)}."
    return {"method": method, "mape": mape, "periods": len(judged), "why": why}


def backtest(scope: Scope, periods: list[Period], cutoff: dt.datetime, methods: tuple[str, ...] = METHODS,
             config: Settings = Settings()) -> dict[str, Any]:
    """Per period: the forecast as of the period's start (only what was known then) and the amount
    actually won in it (as known at `cutoff`); per method: MAPE and bias over the periods."""
    # Every period's forecast and outcome at once (dealgate.analytics.together).
    *made_then, actuals = together(*(
        lambda period=period: forecast_made(scope, period, period.start, methods, config) for period in periods),
        lambda: won_amounts(scope, tuple(periods), cutoff))
    rows = []
    for period, made, actual in zip(periods, made_then, actuals):
        rows.append({
            "period": period.label, "actual": actual,
            **{column(m): made[m]["expected"] for m in methods},
            **({"p10": made["time-aware"]["p10"], "p90": made["time-aware"]["p90"]} if "time-aware" in methods else {}),
        })
    summary = {}
    for method in methods:
        pairs = [(row[column(method)], row["actual"]) for row in rows]
        summary[method] = {"mape": formulas.mape(pairs), "bias": formulas.bias(pairs)}
    if "time-aware" in methods:
        inside = [r for r in rows if r["actual"] and r["p10"] <= r["actual"] <= r["p90"]]
        summary["time-aware"]["coverage"] = formulas.ratio(len(inside), len([r for r in rows if r["actual"]]))
    return {"rows": rows, "summary": summary, "total_actual": sum((r["actual"] for r in rows), Decimal("0.00"))}


@figure(durable=True)
def forecast_made(scope: Scope, period: Period, cutoff: dt.datetime, methods: tuple[str, ...] = METHODS,
                  config: Settings = Settings()) -> dict[str, dict[str, Decimal]]:
    """What the backtest reads of `forecast` made at `cutoff` (a period's start): per method its
    expected value, and the time-aware P10 and P90. Its cutoff is past, so it is kept in the database
    (decision 044) like the time-aware windows: a new process does not redo the due deals, the new
    deals and the learned probabilities of every backtested period (decision 049)."""
    made = forecast(scope, period, cutoff, methods, config)["methods"]
    return {m: {key: made[m][key] for key in ("expected", "p10", "p90") if key in made[m]} for m in methods}
