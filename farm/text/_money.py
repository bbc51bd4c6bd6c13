"""Prices written as buyers read them in each market: ``1.290.000₫``, ``$19.99``, ``฿590``."""

from __future__ import annotations

import math
import re
from decimal import ROUND_HALF_UP, Decimal

from farm.errors import InputError

# (symbol, symbol first, space between, decimals, thousands separator, decimal separator, drop ".00")
CURRENCY_FORMATS: dict[str, tuple[str, bool, bool, int, str, str, bool]] = {
    "VND": ("₫", False, False, 0, ".", ",", False),
    "USD": ("$", True, False, 2, ",", ".", False),
    "EUR": ("€", False, True, 2, ".", ",", False),
    "THB": ("฿", True, False, 2, ",", ".", True),
    "IDR": ("Rp", True, True, 0, ".", ",", False),
    "PHP": ("₱", True, False, 2, ",", ".", False),
    "MYR": ("RM", True, True, 2, ",", ".", False),
    "SGD": ("S$", True, False, 2, ",", ".", False),
    "GBP": ("£", True, False, 2, ",", ".", False),
    "JPY": ("¥", True, False, 0, ",", ".", False),
    "KRW": ("₩", True, False, 0, ",", ".", False),
    "CNY": ("¥", True, False, 2, ",", ".", False),
    "INR": ("₹", True, False, 2, ",", ".", False),
    "AUD": ("A$", True, False, 2, ",", ".", False),
    "CAD": ("C$", True, False, 2, ",", ".", False),
}
_ISO_CODE = re.compile(r"^[A-Z]{3}$")

def format_price(price: float, currency: str) -> str:
    """``price`` written the local way: ``1.290.000₫`` (VND), ``$19.99`` (USD), ``19,99 €`` (EUR), ``฿590``
    (THB), ``Rp 150.000`` (IDR), ``₱1,290.00`` (PHP), ``RM 59.90`` (MYR); any other ISO 4217 code as
    ``1,234.50 XYZ``. Rounds half up to the currency's usual decimals.

    Raises:
        InputError: a negative, infinite or non-numeric price, or a currency that is not three letters.
    """
    if isinstance(price, bool) or not isinstance(price, (int, float, Decimal)) or not math.isfinite(price) \
            or price < 0:
        raise InputError(f"Invalid price ({price!r}). Supported: a finite number, 0 or more.")
    code = currency.strip().upper() if isinstance(currency, str) else ""
    if not _ISO_CODE.match(code):
        raise InputError(f"Invalid currency ({currency!r}). Supported: an ISO 4217 code such as "
                         f"{', '.join(sorted(CURRENCY_FORMATS))}.")
    symbol, first, space, decimals, thousands, point, drop_zero = CURRENCY_FORMATS.get(
        code, (code, False, True, 2, ",", ".", False))
    amount = Decimal(repr(price) if isinstance(price, float) else price)
    amount = amount.quantize(Decimal(1).scaleb(-decimals), rounding=ROUND_HALF_UP)
    if drop_zero and amount == amount.to_integral_value():
        decimals = 0
        amount = amount.quantize(Decimal(1))
    whole, _, frac = f"{amount:.{decimals}f}".partition(".")
    grouped = f"{int(whole):,}".replace(",", thousands)
    number = grouped + (point + frac if decimals else "")
    gap = " " if space else ""
    return f"{symbol}{gap}{number}" if first else f"{number}{gap}{symbol}"
