"""Number formats for the insights pages: thousands separators, percentages, days."""

from django import template

from dealgate.analytics.cli import fmt_days, fmt_money, fmt_pct, fmt_ratio

register = template.Library()
register.filter("money", fmt_money)
register.filter("pct", fmt_pct)
register.filter("days", fmt_days)
register.filter("times", fmt_ratio)
