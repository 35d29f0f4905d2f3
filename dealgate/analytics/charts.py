"""Plotly figure specs (plain dicts) for the insights pages; the page hands them to the local plotly.js.

Every chart is drawn from the same rows the page prints in a table under it.
"""

from __future__ import annotations

from typing import Any

from dealgate.analytics.formulas import COVERAGE_BAND

BLUE, GREEN, RED, GREY = "#2f6fde", "#2e9e5b", "#d64545", "#9aa5b4"
LAYOUT = {"margin": {"l": 60, "r": 20, "t": 30, "b": 40}, "height": 300, "font": {"size": 12},
          "paper_bgcolor": "rgba(0,0,0,0)", "plot_bgcolor": "rgba(0,0,0,0)"}


def _f(value: Any) -> float | None:
    return None if value is None else float(value)


def funnel(rows: list[dict]) -> dict:
    return {"data": [{"type": "funnel", "y": [r["stage"] for r in rows], "x": [r["entered"] for r in rows],
                      "text": [("—" if r["conversion"] is None else f"{r['conversion'] * 100:.0f}% moved on")
                               for r in rows], "textinfo": "value+text", "marker": {"color": BLUE}}],
            "layout": {**LAYOUT, "margin": {**LAYOUT["margin"], "l": 170},
                       "title": {"text": "Deals that entered each stage"}}}


def time_in_stage(rows: list[dict]) -> dict:
    stages = [r["stage"] for r in rows]
    series = [("Median", "median_days", BLUE), ("P75", "p75_days", GREY), ("P90", "p90_days", RED),
              ("Open now (median age)", "open_age_median", GREEN)]
    return {"data": [{"type": "bar", "name": name, "x": stages, "y": [_f(r[key]) for r in rows],
                      "marker": {"color": color}} for name, key, color in series],
            "layout": {**LAYOUT, "barmode": "group", "yaxis": {"title": {"text": "days"}}}}


def waterfall(w: dict) -> dict:
    steps = [("Opening", w["opening"], "absolute"), ("Created", w["created"], "relative"),
             ("Moved in", w["moved_in"], "relative"), ("Moved out", -w["moved_out"], "relative"),
             ("Won", -w["won"], "relative"), ("Lost", -w["lost"], "relative"),
             ("Amount changes", w["amount_changes"], "relative"), ("Closing", w["closing"], "total")]
    return {"data": [{"type": "waterfall", "x": [s[0] for s in steps], "y": [float(s[1]) for s in steps],
                      "measure": [s[2] for s in steps], "increasing": {"marker": {"color": GREEN}},
                      "decreasing": {"marker": {"color": RED}}, "totals": {"marker": {"color": BLUE}}}],
            "layout": {**LAYOUT}}


def coverage(value: float | None) -> dict:
    low, high = COVERAGE_BAND
    top = max(5.0, (value or 0) * 1.2)
    return {"data": [{"type": "bar", "orientation": "h", "y": ["Coverage"], "x": [value or 0],
                      "marker": {"color": BLUE}, "width": 0.4}],
            "layout": {**LAYOUT, "height": 170, "xaxis": {"range": [0, top], "ticksuffix": "x", "title": {
                           "text": "pipeline due in the period ÷ quota still to win"}},
                       "shapes": [{"type": "rect", "xref": "x", "yref": "paper", "x0": low, "x1": high, "y0": 0,
                                   "y1": 1, "fillcolor": GREEN, "opacity": 0.15, "line": {"width": 0}}],
                       "annotations": [{"x": (low + high) / 2, "y": 1, "xref": "x", "yref": "paper",
                                        "yanchor": "bottom", "text": "healthy", "showarrow": False}]}}


def forecast_range(methods: dict, actual: Any = None) -> dict:
    names = list(methods)
    data = [{"type": "bar", "name": "Expected", "x": names, "y": [_f(m["expected"]) for m in methods.values()],
             "marker": {"color": BLUE},
             "error_y": {"type": "data", "symmetric": False,
                         "array": [(_f(m["p90"]) - _f(m["expected"])) if m.get("p90") is not None else 0
                                   for m in methods.values()],
                         "arrayminus": [(_f(m["expected"]) - _f(m["p10"])) if m.get("p10") is not None else 0
                                        for m in methods.values()]}}]
    return {"data": data, "layout": {**LAYOUT, "title": {"text": "Expected won in the period (bars: P10-P90)"}}}


def backtest(rows: list[dict], methods: tuple[str, ...]) -> dict:
    periods = [r["period"] for r in rows]
    data = [{"type": "scatter", "mode": "lines+markers", "name": "Actual won", "x": periods,
             "y": [float(r["actual"]) for r in rows], "line": {"color": "#222", "width": 3}}]
    colors = {"weighted": GREY, "historical": RED, "time-aware": BLUE}
    data += [{"type": "scatter", "mode": "lines+markers", "name": m, "x": periods, "y": [float(r[m.replace("-", "_")]) for r in rows],
              "line": {"color": colors.get(m, GREEN)}} for m in methods]
    return {"data": data, "layout": {**LAYOUT}}
