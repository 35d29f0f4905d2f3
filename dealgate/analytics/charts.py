"""Plotly figure specs (plain dicts) for the insights pages; the page hands them to the local plotly.js.

Every chart is drawn from the same rows the page prints in a table under it, and reads on its own:
a title, a title on each axis, the unit on every number (the currency on money, "days", "x"), and
no text smaller than 12 px. A chart with nothing to show is not drawn: its function answers None and
the page says why in words instead.
"""

from __future__ import annotations

from typing import Any

from dealgate.analytics.formulas import COVERAGE_BAND

BLUE, GREEN, RED, GREY = "#2f6fde", "#2e9e5b", "#d64545", "#6b7686"
MIN_FONT = 12  # px: the smallest text any chart draws
FONT = {"size": 13, "family": "system-ui, -apple-system, Segoe UI, Roboto, sans-serif", "color": "#1f2733"}
LAYOUT = {"margin": {"l": 70, "r": 20, "t": 48, "b": 60}, "height": 320, "font": FONT,
          "paper_bgcolor": "rgba(0,0,0,0)", "plot_bgcolor": "rgba(0,0,0,0)",
          "legend": {"orientation": "h", "y": -0.25, "font": {"size": MIN_FONT}},
          "hoverlabel": {"font": {"size": MIN_FONT}}}


def _f(value: Any) -> float | None:
    return None if value is None else float(value)


def _axis(title: str, **extra: Any) -> dict:
    return {"title": {"text": title, "font": {"size": MIN_FONT + 1}}, "tickfont": {"size": MIN_FONT},
            "automargin": True, **extra}


def _money_axis(title: str, currency: str) -> dict:
    """Amounts as 1.2M EUR, 250k EUR: the currency on every tick, not only in the title."""
    return _axis(f"{title} ({currency})", tickformat="~s", ticksuffix=f" {currency}", separatethousands=True)


def _layout(title: str, x: dict, y: dict, **extra: Any) -> dict:
    return {**LAYOUT, "title": {"text": title, "font": {"size": 15}, "x": 0, "xanchor": "left"},
            "xaxis": x, "yaxis": y, **extra}


def funnel(rows: list[dict]) -> dict | None:
    """Deals that entered each stage, top to bottom, each bar labelled "153 entered · 48% moved on"."""
    if not rows or not any(r["entered"] for r in rows):
        return None
    text = [f"{r['entered']:,} entered" + ("" if r["conversion"] is None else f" · {r['conversion'] * 100:.0f}% moved on")
            for r in rows]
    top = max(r["entered"] for r in rows)
    return {"data": [{"type": "bar", "orientation": "h", "y": [r["stage"] for r in rows],
                      "x": [r["entered"] for r in rows], "text": text, "textposition": "outside",
                      "textfont": {"size": MIN_FONT + 1}, "cliponaxis": False, "marker": {"color": BLUE},
                      "hovertemplate": "%{y}: %{text}<extra></extra>"}],
            "layout": _layout("Deals that entered each stage, and the share that moved on",
                              _axis("Deals that entered the stage", range=[0, top * 1.6]),
                              _axis("Stage", autorange="reversed"),
                              height=max(260, 70 + 36 * len(rows)))}


def time_in_stage(rows: list[dict]) -> dict | None:
    series = [("Median", "median_days", BLUE), ("P75 (3 in 4 took at most)", "p75_days", GREY),
              ("P90 (9 in 10 took at most)", "p90_days", RED), ("Open deals now (median age)", "open_age_median", GREEN)]
    if not any(r[key] is not None for r in rows for _, key, _ in series):
        return None
    stages = [r["stage"] for r in rows]
    return {"data": [{"type": "bar", "name": name, "x": stages, "y": [_f(r[key]) for r in rows],
                      "marker": {"color": color}, "hovertemplate": "%{x}: %{y:.1f} days<extra>" + name + "</extra>"}
                     for name, key, color in series],
            "layout": _layout("Days a deal spends in each stage", _axis("Stage"),
                              _axis("Days", ticksuffix=" d", tickformat=",.1~f"), barmode="group")}


def waterfall(w: dict, currency: str) -> dict | None:
    steps = [("Opening", w["opening"], "absolute"), ("Created", w["created"], "relative"),
             ("Moved in", w["moved_in"], "relative"), ("Moved out", -w["moved_out"], "relative"),
             ("Won", -w["won"], "relative"), ("Lost", -w["lost"], "relative"),
             ("Amount changes", w["amount_changes"], "relative"), ("Closing", w["closing"], "total")]
    if not any(float(s[1]) for s in steps):
        return None
    return {"data": [{"type": "waterfall", "x": [s[0] for s in steps], "y": [float(s[1]) for s in steps],
                      "measure": [s[2] for s in steps], "increasing": {"marker": {"color": GREEN}},
                      "decreasing": {"marker": {"color": RED}}, "totals": {"marker": {"color": BLUE}},
                      "hovertemplate": "%{x}: %{y:,.0f} " + currency + "<extra></extra>"}],
            "layout": _layout("How the open pipeline changed over the period", _axis("Step"),
                              _money_axis("Open pipeline", currency))}


def coverage(value: float | None) -> dict | None:
    """Coverage against the healthy band; None without a number (no quota, or the quota already met)."""
    if value is None:
        return None
    low, high = COVERAGE_BAND
    top = max(5.0, value * 1.2)
    return {"data": [{"type": "bar", "orientation": "h", "y": ["Coverage"], "x": [value], "marker": {"color": BLUE},
                      "width": 0.4, "text": [f"{value:.1f}x"], "textposition": "outside", "cliponaxis": False,
                      "textfont": {"size": MIN_FONT + 1}, "hovertemplate": "%{x:.1f}x<extra></extra>"}],
            "layout": _layout(f"Coverage: {value:.1f}x (healthy {low:g}x–{high:g}x)",
                              _axis("Pipeline due in the period ÷ quota still to win", range=[0, top], ticksuffix="x"),
                              _axis("", showticklabels=False),
                              height=190, margin={**LAYOUT["margin"], "l": 20, "b": 50},
                              shapes=[{"type": "rect", "xref": "x", "yref": "paper", "x0": low, "x1": high, "y0": 0,
                                       "y1": 1, "fillcolor": GREEN, "opacity": 0.15, "line": {"width": 0}}],
                              annotations=[{"x": (low + high) / 2, "y": 1, "xref": "x", "yref": "paper",
                                            "yanchor": "bottom", "text": "healthy", "showarrow": False,
                                            "font": {"size": MIN_FONT}}])}


def forecast_range(methods: dict, currency: str) -> dict | None:
    if not any(_f(m["expected"]) for m in methods.values()):
        return None
    names = list(methods)
    data = [{"type": "bar", "name": "Expected", "x": names, "y": [_f(m["expected"]) for m in methods.values()],
             "marker": {"color": BLUE}, "hovertemplate": "%{x}: %{y:,.0f} " + currency + "<extra></extra>",
             "error_y": {"type": "data", "symmetric": False,
                         "array": [(_f(m["p90"]) - _f(m["expected"])) if m.get("p90") is not None else 0
                                   for m in methods.values()],
                         "arrayminus": [(_f(m["expected"]) - _f(m["p10"])) if m.get("p10") is not None else 0
                                        for m in methods.values()]}}]
    return {"data": data, "layout": _layout("Expected won in the period (lines: likely range, P10 to P90)",
                                            _axis("Forecast method"), _money_axis("Won", currency))}


def backtest(rows: list[dict], methods: tuple[str, ...], currency: str) -> dict | None:
    if not any(float(r["actual"]) or any(float(r[m.replace("-", "_")]) for m in methods) for r in rows):
        return None
    periods = [r["period"] for r in rows]
    hover = "%{x}: %{y:,.0f} " + currency
    data = [{"type": "scatter", "mode": "lines+markers", "name": "Actually won", "x": periods,
             "y": [float(r["actual"]) for r in rows], "line": {"color": "#222", "width": 3}, "hovertemplate": hover}]
    colors = {"weighted": GREY, "historical": RED, "time-aware": BLUE}
    data += [{"type": "scatter", "mode": "lines+markers", "name": f"{m} forecast", "x": periods,
              "y": [float(r[m.replace("-", "_")]) for r in rows], "line": {"color": colors.get(m, GREEN)},
              "hovertemplate": hover} for m in methods]
    return {"data": data, "layout": _layout("Past periods: each forecast against what was won", _axis("Period"),
                                            _money_axis("Won", currency))}
