"""Every chart reads on its own: a title, axis titles, units (the currency on money), text of at least 12 px,
and nothing drawn when there is nothing to show (the function answers None and the page says so)."""

from __future__ import annotations

from decimal import Decimal

from django.urls import reverse

from dealgate.analytics import charts

FUNNEL = [
    {"stage": "Qualify", "entered": 153, "conversion": 0.48, "median_days": 4.0, "p75_days": 6.0, "p90_days": 9.5,
     "open_age_median": 3.0},
    {"stage": "Propose", "entered": 73, "conversion": None, "median_days": None, "p75_days": None, "p90_days": None,
     "open_age_median": 12.0},
]
FLOW = {"opening": Decimal("10000000"), "created": Decimal("2000000"), "moved_in": Decimal("0"),
        "moved_out": Decimal("100000"), "won": Decimal("900000"), "lost": Decimal("500000"),
        "amount_changes": Decimal("-50000"), "closing": Decimal("10450000")}
METHODS = {"weighted": {"expected": 900.0, "p10": 700.0, "p90": 1100.0},
           "historical": {"expected": 800.0, "p10": None, "p90": None}}
BACKTEST = [{"period": "2026-Q2", "actual": 1000.0, "weighted": 900.0, "historical": 800.0, "time_aware": 950.0}]


def _sizes(node):
    """Every font size anywhere in a spec."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "size" and isinstance(value, (int, float)):
                yield value
            else:
                yield from _sizes(value)
    elif isinstance(node, list):
        for value in node:
            yield from _sizes(value)


def _all_specs():
    return {"funnel": charts.funnel(FUNNEL), "time": charts.time_in_stage(FUNNEL),
            "waterfall": charts.waterfall(FLOW, "EUR"), "coverage": charts.coverage(2.5),
            "range": charts.forecast_range(METHODS, "EUR"),
            "backtest": charts.backtest(BACKTEST, ("weighted", "historical", "time-aware"), "EUR")}


def test_every_chart_has_a_title_axis_titles_and_no_text_under_12_px():
    for name, spec in _all_specs().items():
        layout = spec["layout"]
        assert layout["title"]["text"], name
        assert layout["xaxis"]["title"]["text"], name
        if layout["yaxis"].get("showticklabels", True):
            assert layout["yaxis"]["title"]["text"], name
        sizes = list(_sizes(spec))
        assert sizes and min(sizes) >= 12, (name, sorted(sizes)[:3])


def test_money_axes_carry_the_currency_on_each_tick_and_in_the_title():
    """The waterfall's 10,000,000 opening shows as "10M EUR" (tickformat ~s plus the suffix), not a bare "10M"."""
    for name in ("waterfall", "range", "backtest"):
        axis = _all_specs()[name]["layout"]["yaxis"]
        assert axis["ticksuffix"] == " EUR" and axis["tickformat"] == "~s", name
        assert axis["title"]["text"].endswith("(EUR)"), name
    days = charts.time_in_stage(FUNNEL)["layout"]["yaxis"]
    assert (days["ticksuffix"], days["tickformat"]) == (" d", ",.1~f")  # 0.5 d, never "500m d"
    assert charts.coverage(2.5)["layout"]["xaxis"]["ticksuffix"] == "x"


def test_the_funnel_says_what_its_numbers_are():
    """153 entered Qualify and 48% of them moved on; Propose has no conversion yet (no closed stays)."""
    assert charts.funnel(FUNNEL)["data"][0]["text"] == ["153 entered · 48% moved on", "73 entered"]


def test_no_chart_is_drawn_without_something_to_show():
    empty_rows = [{**row, "entered": 0, "median_days": None, "p75_days": None, "p90_days": None,
                   "open_age_median": None} for row in FUNNEL]
    assert charts.funnel([]) is None and charts.funnel(empty_rows) is None
    assert charts.time_in_stage(empty_rows) is None
    assert charts.waterfall({key: Decimal(0) for key in FLOW}, "EUR") is None
    assert charts.coverage(None) is None
    assert charts.forecast_range({"weighted": {"expected": 0, "p10": 0, "p90": 0}}, "EUR") is None
    assert charts.backtest([], ("weighted",), "EUR") is None
    assert charts.backtest([{"period": "2026-Q2", "actual": 0, "weighted": 0}], ("weighted",), "EUR") is None


def test_an_empty_insights_page_says_so_instead_of_drawing_empty_charts(client, world, pipeline):
    """A pipeline with no deal: no chart element on the page, a sentence for each chart instead."""
    client.force_login(world.dave)
    html = client.get(reverse("analytics:insights"), {"pipeline": pipeline.pk}).content.decode()
    assert "data-chart=" not in html
    assert html.count('class="muted chart-none"') == 3


def test_every_chart_type_is_in_the_vendored_plotly_bundle():
    """The finance bundle's trace types (its README); the full plotly.js is not served any more."""
    bundle = {"bar", "candlestick", "funnel", "funnelarea", "histogram", "indicator", "ohlc", "pie", "scatter",
              "waterfall"}
    used = {trace["type"] for spec in _all_specs().values() for trace in spec["data"]}
    assert used == {"bar", "scatter", "waterfall"} and used <= bundle
    from dealgate.analytics.views import PLOTLY_JS

    assert PLOTLY_JS.read_text()[:60].startswith("/**\n* plotly.js (finance - minified) v4.1.0")


def test_the_headline_figures_carry_the_currency(client, world, pipeline):
    """Sales velocity and the forecast's lead figure name their currency, like the charts' axes do
    (issue 14: "11,836 per day" carried none). No deal: no velocity (a dash, no currency), a forecast of 0."""
    client.force_login(world.dave)
    insights = client.get(reverse("analytics:insights"), {"pipeline": pipeline.pk}).content.decode()
    assert '<p class="big">— <span class="muted">per day</span></p>' in insights
    forecast = client.get(reverse("analytics:forecast"), {"pipeline": pipeline.pk, "period": "2026-Q4"}).content.decode()
    assert "<h2>Expected won in 2026-Q4: EUR 0</h2>" in forecast
