"""ISO 4217 currency codes a deal may be priced in (vendored: the standard library has no list).

The active codes of the ISO 4217 list (including its fund codes such as CHE, CLF or USN), without
the precious metals and the testing and "no currency" codes (XAU, XDR, XTS, XXX...), plus the
codes withdrawn since 2015 (BYR, HRK, LTL, MRO, STD, VEF, CUC, SLL, ZWL, ANG), so that deals priced
before a currency was replaced can still be recorded and imported. No Django imports: the
settings module reads it too.
"""

from __future__ import annotations

ACTIVE = """
AED AFN ALL AMD AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD BND BOB BOV BRL BSD BTN BWP BYN
BZD CAD CDF CHE CHF CHW CLF CLP CNY COP COU CRC CUP CVE CZK DJF DKK DOP DZD EGP ERN ETB EUR FJD
FKP GBP GEL GHS GIP GMD GNF GTQ GYD HKD HNL HTG HUF IDR ILS INR IQD IRR ISK JMD JOD JPY KES KGS
KHR KMF KPW KRW KWD KYD KZT LAK LBP LKR LRD LSL LYD MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK
MXN MXV MYR MZN NAD NGN NIO NOK NPR NZD OMR PAB PEN PGK PHP PKR PLN PYG QAR RON RSD RUB RWF SAR
SBD SCR SDG SEK SGD SHP SLE SOS SRD SSP STN SVC SYP SZL THB TJS TMT TND TOP TRY TTD TWD TZS UAH
UGX USD USN UYI UYU UYW UZS VED VES VND VUV WST XAF XCD XCG XOF XPF YER ZAR ZMW ZWG
"""
WITHDRAWN_SINCE_2015 = "ANG BYR CUC HRK LTL MRO SLL STD VEF ZWL"

CURRENCY_CODES: frozenset[str] = frozenset((ACTIVE + " " + WITHDRAWN_SINCE_2015).split())


def is_currency_code(code: str) -> bool:
    """True for an upper-case ISO 4217 code Dealgate accepts ("EUR"); "QQQ" or "eur" is not."""
    return code in CURRENCY_CODES
