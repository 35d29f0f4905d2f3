"""The limits every way in (web, API, CLI, imports) holds values to, kept in one place.

The API schemas, the deal services and the CSV import all ask these, so a value one of them
refuses is refused by all of them, with the same words.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

# Dates far outside a sales horizon only ever come from typos or fuzzers; keep them out of the
# database (9999-12-31 also overflows date arithmetic in analytics). A moment keeps a day inside
# the bounds in every time zone, so converting it never leaves the range of dates.
EARLIEST_DAY = dt.date(1900, 1, 1)
LATEST_DAY = dt.date(2999, 12, 31)
EARLIEST_MOMENT = dt.datetime(1900, 1, 2, tzinfo=dt.timezone.utc)
LATEST_MOMENT = dt.datetime(2999, 12, 30, tzinfo=dt.timezone.utc)

AMOUNT_LIMIT = Decimal("1e12")  # exclusive: the column holds 12 digits before the point
AMOUNT_LIMIT_TEXT = "999,999,999,999.99"

# ISO 4217 currency codes in use, with a few recently withdrawn ones that old exports still carry
# (HRK until 2023, SLL, ANG, ZWL). Fund and metal codes (XAU...) are left out: no deal is priced in them.
CURRENCIES = frozenset("""
AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD BND BOB BRL BSD BTN BWP BYN BZD
CAD CDF CHF CLP CNY COP CRC CUP CVE CZK DJF DKK DOP DZD EGP ERN ETB EUR FJD FKP GBP GEL GHS GIP GMD
GNF GTQ GYD HKD HNL HRK HTG HUF IDR ILS INR IQD IRR ISK JMD JOD JPY KES KGS KHR KMF KPW KRW KWD KYD
KZT LAK LBP LKR LRD LSL LYD MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN MYR MZN NAD NGN NIO NOK
NPR NZD OMR PAB PEN PGK PHP PKR PLN PYG QAR RON RSD RUB RWF SAR SBD SCR SDG SEK SGD SHP SLE SLL SOS
SRD SSP STN SVC SYP SZL THB TJS TMT TND TOP TRY TTD TWD TZS UAH UGX USD UYU UZS VES VND VUV WST XAF
XCD XCG XOF XPF YER ZAR ZMW ZWG ZWL
""".split())


def day_problem(value: dt.date) -> str | None:
    """Why a date is refused, or None. Takes the date part of a datetime."""
    day = value.date() if isinstance(value, dt.datetime) else value
    if not EARLIEST_DAY <= day <= LATEST_DAY:
        return f"must be between {EARLIEST_DAY.isoformat()} and {LATEST_DAY.isoformat()}"
    return None


def moment_problem(value: dt.datetime) -> str | None:
    """Why a date and time is refused, or None (naive values are compared as UTC)."""
    aware = value if value.tzinfo is not None else value.replace(tzinfo=dt.timezone.utc)
    # The year test first: comparing 0001-01-01 in a zone east of UTC would overflow.
    if not EARLIEST_DAY.year <= value.year <= LATEST_DAY.year or not EARLIEST_MOMENT <= aware <= LATEST_MOMENT:
        return f"must be between {EARLIEST_MOMENT:%Y-%m-%d} and {LATEST_MOMENT:%Y-%m-%d}"
    return None


def amount_problem(amount: Decimal) -> str | None:
    if amount < 0:
        return "cannot be negative"
    if amount >= AMOUNT_LIMIT:
        return f"is too large (at most {AMOUNT_LIMIT_TEXT})"
    return None


def currency_problem(code: str) -> str | None:
    """Why a currency code is refused, or None; `code` is expected upper-case already."""
    if len(code) != 3 or not code.isascii() or not code.isalpha():
        return "is not a three-letter currency code such as EUR"
    if code not in CURRENCIES:
        return "is not an ISO 4217 currency code (such as EUR, USD, GBP)"
    return None
