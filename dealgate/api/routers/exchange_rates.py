"""Dated exchange rates into the company currency: list, set (PUT, replacing the rate of that
currency and day), remove. The same service as the settings page and `dealgate rates`
(dealgate.analytics.rates): admins write (403 for everyone else); everyone signed in reads.
"""

from __future__ import annotations

from typing import Annotated

from ninja import Field, Router, Schema
from pydantic import StrictFloat, StrictInt

from dealgate.analytics.models import ExchangeRate
from dealgate.analytics.rates import may_set_rates, remove_rate, set_rate, visible_rates
from dealgate.api.routers import ERRORS, WRITE_ERRORS
from dealgate.api.routers.lookups import MAX_ID
from dealgate.api.schemas import Currency, InputSchema
from dealgate.errors import NotAllowed, NotFound

router = Router(tags=["exchange rates"])

RateText = Annotated[str, Field(min_length=1, max_length=40, pattern=r"^[0-9.]+$")]
DateText = Annotated[str, Field(pattern=r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$", description="YYYY-MM-DD")]


class ExchangeRateOut(Schema):
    id: int
    currency: str
    effective_from: str = Field(description="YYYY-MM-DD: the rate applies from this day until the next rate.")
    rate: str = Field(description="Company-currency units per one unit of `currency`, as a decimal string.")

    @staticmethod
    def resolve_effective_from(row: ExchangeRate) -> str:
        return row.effective_from.isoformat()

    @staticmethod
    def resolve_rate(row: ExchangeRate) -> str:
        return format(row.rate.normalize(), "f")


class ExchangeRateIn(InputSchema):
    """Setting the rate of a currency for a day that has one replaces it."""

    currency: Currency = Field(description="ISO 4217 code, not the company currency.")
    rate: RateText | StrictInt | StrictFloat = Field(
        description="Company-currency units per one unit of `currency` (0.000001 to 1,000,000), e.g. \"0.92\".")
    effective_from: DateText = Field(description="YYYY-MM-DD, from 1990-01-01 to a year from today.")


@router.get("", response={200: list[ExchangeRateOut], **ERRORS},
            summary="Exchange rates into the company currency, by currency, newest first")
def list_rates(request):
    return list(visible_rates())


@router.put("", response={200: ExchangeRateOut, **WRITE_ERRORS},
            summary="Set the rate of a currency from a day on (admins)")
def put_rate(request, payload: ExchangeRateIn):
    return set_rate(currency=payload.currency, rate=payload.rate, effective_from=payload.effective_from,
                    by=request.auth)


@router.delete("/{int:rate_id}", response={204: None, **WRITE_ERRORS}, summary="Remove an exchange rate (admins)")
def delete_rate(request, rate_id: int):
    if not may_set_rates(request.auth):
        raise NotAllowed("Only an administrator may remove exchange rates.")
    rate = visible_rates().filter(pk=rate_id).first() if 0 < rate_id <= MAX_ID else None
    if rate is None:
        raise NotFound(f"No exchange rate {rate_id}.", details={"exchange_rate": rate_id})
    remove_rate(rate, by=request.auth)
    return 204, None
