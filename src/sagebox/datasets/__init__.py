"""Small real datasets shipped inside the package, so examples run offline."""

from pathlib import Path

GERMAN_CREDIT = Path(__file__).with_name("german_credit.csv")

__all__ = ["GERMAN_CREDIT"]
