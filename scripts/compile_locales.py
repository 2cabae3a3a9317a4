#!/usr/bin/env python3
"""Compile the bot's translation catalogues (.po) into the .mo files it loads.

Run after editing src/i2v/bot/locales/*/LC_MESSAGES/i2v.po; tests/test_bot_texts.py checks
that the shipped .mo files match their sources.
"""

from __future__ import annotations

from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

LOCALES = Path(__file__).resolve().parent.parent / "src" / "i2v" / "bot" / "locales"


def main() -> None:
    """Rewrite every i2v.mo from the i2v.po beside it."""
    for po in sorted(LOCALES.glob("*/LC_MESSAGES/i2v.po")):
        with po.open("rb") as source:
            catalog = read_po(source)
        with po.with_suffix(".mo").open("wb") as target:
            write_mo(target, catalog)
        print(f"compiled {po.with_suffix('.mo').relative_to(LOCALES.parent.parent.parent.parent)}")


if __name__ == "__main__":
    main()
