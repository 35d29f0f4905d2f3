"""One router per resource; `register` mounts them all on the API."""

from __future__ import annotations

from typing import Any

from dealgate.api.schemas import ErrorOut

# Statuses any authenticated endpoint can answer besides success, declared so the OpenAPI
# document lists every answer a client must handle.
ERRORS: dict[int, Any] = {400: ErrorOut, 401: ErrorOut, 403: ErrorOut, 404: ErrorOut, 422: ErrorOut}
# A body over the size limit (settings.DATA_UPLOAD_MAX_MEMORY_SIZE) answers 413 before it is read.
WRITE_ERRORS: dict[int, Any] = {**ERRORS, 409: ErrorOut, 413: ErrorOut}


def register(api: Any) -> None:
    from dealgate.api.routers import (accounts, activities, audit, deal_parts, deals, exchange_rates, pipelines, quotas,
                                      rules, tasks, tokens)

    api.add_router("/pipelines", pipelines.router)
    api.add_router("/lost-reasons", pipelines.lost_reasons)
    api.add_router("/deals", deals.router)
    api.add_router("/deals", deal_parts.router)
    api.add_router("/accounts", accounts.router)
    api.add_router("/contacts", accounts.contacts)
    api.add_router("/activities", activities.router)
    api.add_router("/tokens", tokens.router)
    api.add_router("/audit", audit.router)
    api.add_router("/tasks", tasks.router)
    api.add_router("/rules", rules.router)
    api.add_router("/quotas", quotas.router)
    api.add_router("/exchange-rates", exchange_rates.router)
