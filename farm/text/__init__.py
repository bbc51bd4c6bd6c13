"""Words on videos and posts, the local way: prices in each currency's own format."""

from farm.text._money import CURRENCY_FORMATS, format_price

__all__ = ["CURRENCY_FORMATS", "format_price"]
