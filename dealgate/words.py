"""Words for people: counts whose nouns agree ("1 criterion", "3 criteria", "1,234 deals")."""

from __future__ import annotations


def plural(count: int, singular: str, many: str | None = None) -> str:
    """The count with thousands separators and the noun in the number it needs."""
    word = singular if count == 1 else (many or singular + "s")
    return f"{count:,} {word}"
