"""Prices written as buyers read them in each market: ``1.290.000₫``, ``$19.99``, ``฿590``."""

from __future__ import annotations

import math
from dataclasses import dataclass

from farm.errors import InputError


@dataclass(frozen=True)
class CurrencyFormat:
    symbol: str
    decimals: int
    thousands: str
    decimal_mark: str
    symbol_after: bool
    space: bool  # between the number and the symbol


# the markets our users sell in, as their own shops and marketplaces (Shopee, Lazada,
# TikTok Shop) print prices; any other ISO code: 1,234.50 XYZ
CURRENCY_FORMATS: dict[str, CurrencyFormat] = {
    "VND": CurrencyFormat("₫", 0, ".", ",", True, False),
    "USD": CurrencyFormat("$", 2, ",", ".", False, False),
    "EUR": CurrencyFormat("€", 2, ".", ",", True, True),
    "GBP": CurrencyFormat("£", 2, ",", ".", False, False),
    "THB": CurrencyFormat("฿", 0, ",", ".", False, False),
    "IDR": CurrencyFormat("Rp", 0, ".", ",", False, True),
    "PHP": CurrencyFormat("₱", 2, ",", ".", False, False),
    "MYR": CurrencyFormat("RM", 2, ",", ".", False, True),
    "SGD": CurrencyFormat("S$", 2, ",", ".", False, False),
    "JPY": CurrencyFormat("¥", 0, ",", ".", False, False),
    "KRW": CurrencyFormat("₩", 0, ",", ".", False, False),
    "CNY": CurrencyFormat("¥", 2, ",", ".", False, False),
}


def _group(whole: int, sep: str) -> str:
    digits = str(whole)
    groups = []
    while len(digits) > 3:
        groups.append(digits[-3:])
        digits = digits[:-3]
    groups.append(digits)
    return sep.join(reversed(groups))


def format_price(price: float, currency: str) -> str:
    """``price`` in ``currency`` (an ISO 4217 code) as that market writes it.

    >>> format_price(1290000, "VND"), format_price(19.99, "USD"), format_price(19.99, "EUR")
    ('1.290.000₫', '$19.99', '19,99 €')
    """
    if isinstance(price, bool) or not isinstance(price, (int, float)) or not math.isfinite(price) or price < 0:
        raise InputError(f"Invalid price ({price!r}). Supported: a number, 0 or more.")
    code = str(currency).upper()
    fmt = CURRENCY_FORMATS.get(code, CurrencyFormat(code, 2, ",", ".", True, True))
    scaled = round(price * 10**fmt.decimals)  # integer arithmetic: 19.99 stays 19.99
    whole, frac = divmod(int(scaled), 10**fmt.decimals)
    number = _group(whole, fmt.thousands)
    if fmt.decimals:
        number += fmt.decimal_mark + str(frac).zfill(fmt.decimals)
    gap = " " if fmt.space else ""
    return f"{number}{gap}{fmt.symbol}" if fmt.symbol_after else f"{fmt.symbol}{gap}{number}"
