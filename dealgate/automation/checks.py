"""`dealgate check` for automation: emails link back to the site, so the site must know its address.

Without DEALGATE_BASE_URL a development install links to http://127.0.0.1:8000 (where `run.py`
serves) and a production one sends emails without links. Production settings warn on every check;
`check --deploy` warns whatever the settings, once.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import Tags, Warning, register


def _missing_base_url() -> list[Warning]:
    if settings.DEALGATE_BASE_URL:
        return []
    return [Warning(
        "DEALGATE_BASE_URL is not set: notification and digest emails cannot link to deals"
        + (" (they name the deal without a link)." if settings.PRODUCTION else " (they link to http://127.0.0.1:8000)."),
        hint="Set DEALGATE_BASE_URL to the address people open Dealgate at, e.g. https://crm.example.com.",
        id="dealgate.automation.W001",
    )]


@register(Tags.compatibility, "automation")
def check_base_url_in_production(app_configs: Any = None, **kwargs: Any) -> list[Warning]:
    return _missing_base_url() if settings.PRODUCTION else []


@register(Tags.security, "automation", deploy=True)
def check_base_url_for_deploy(app_configs: Any = None, **kwargs: Any) -> list[Warning]:
    return [] if settings.PRODUCTION else _missing_base_url()  # production: the check above already said it
