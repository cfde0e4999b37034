"""The demo market's servicing documents (`ProductVersion.servicing`), one shape per line.

Deterministic (no random draws, so the rest of the generated market does not move): what the
market's clauses commonly say for each line — pro rata refunds net of 25 % for short-term
health and accident, the short-rate table for property, none for the compulsory motor cover
after its cooling-off, cash values for long-term life.
"""

from __future__ import annotations

from typing import Any

ALL_CHANGES = ["contact", "beneficiaries", "insured_correction"]
LONG_TERM = {"critical_illness", "term_life", "whole_life"}
SCENARIO = {"return_shipping", "flight_delay"}


def _term_life_cash_values() -> list[dict[str, str | int]]:
    """Protection-only cover: the cash value rises, peaks mid-term and falls back to nothing."""
    rates = ["0.05", "0.15", "0.25", "0.32", "0.38", "0.42", "0.44", "0.45", "0.44", "0.42"]
    rates += ["0.40", "0.37", "0.34", "0.31", "0.28", "0.25", "0.22", "0.19", "0.16", "0.13"]
    rates += ["0.11", "0.09", "0.07", "0.06", "0.05", "0.04", "0.03", "0.02", "0.01", "0"]
    return [{"year": i + 1, "rate": r} for i, r in enumerate(rates)]


def _critical_illness_cash_values() -> list[dict[str, str | int]]:
    rates = ["0.08", "0.20", "0.32", "0.42", "0.50", "0.56", "0.61", "0.65", "0.68", "0.71"]
    rates += ["0.73", "0.75", "0.77", "0.79", "0.81", "0.83", "0.85", "0.87", "0.89", "0.90"]
    return [{"year": i + 1, "rate": r} for i, r in enumerate(rates)]


def _whole_life_cash_values() -> list[dict[str, str | int]]:
    """Savings-type cover: the cash value passes the premiums paid around year 8, then grows."""
    rates = ["0.20", "0.45", "0.62", "0.75", "0.84", "0.91", "0.97", "1.01", "1.04", "1.07"]
    rates += ["1.10", "1.13", "1.16", "1.19", "1.22", "1.25", "1.28", "1.31", "1.34", "1.37"]
    return [{"year": i + 1, "rate": r} for i, r in enumerate(rates)]


def servicing_for(line: str, *, renewable: bool) -> dict[str, Any]:
    if line in LONG_TERM:
        cash_values = {
            "term_life": _term_life_cash_values,
            "critical_illness": _critical_illness_cash_values,
            "whole_life": _whole_life_cash_values,
        }[line]()
        after = {"term_life": "0", "critical_illness": "0.90", "whole_life": "1.37"}[line]
        return {
            "endorsements": {
                "allowed": [*ALL_CHANGES, "sum_insured"],
                "needs_approval": ["insured_correction", "sum_insured"],
                "confirmation": "same_as_application",
                "sum_insured": {"increase": False, "decrease": True},
            },
            "cancellation": {
                "cooling_off_fee": "0",
                "method": "cash_value",
                "cash_values": cash_values,
                "cash_value_after": after,
            },
            "grace_days": 60,
            "reinstatement": {"years": 2, "health_questions": True},
            "renewal_offer_days": 30,
            "auto_renewal": False,
        }
    if line == "auto_compulsory":
        return {
            "endorsements": {
                "allowed": ["contact", "insured_correction"],
                "needs_approval": ["insured_correction"],
            },
            "cancellation": {
                "method": "none",
                "refusal": "交强险除车辆报废、转籍、重复投保等法定情形外不得解除合同",
            },
            "grace_days": 0,
            "renewal_offer_days": 30,
            "auto_renewal": True,
        }
    if line in {"auto_commercial", "home_property"}:
        return {
            "endorsements": {
                "allowed": ["contact", "insured_correction", "plan"],
                "needs_approval": ["insured_correction"],
            },
            "cancellation": {
                "method": "short_rate" if line == "home_property" else "pro_rata",
                "fee_rate": "0",
            },
            "grace_days": 30,
            "renewal_offer_days": 30,
            "auto_renewal": True,
        }
    if line in SCENARIO:
        return {
            "endorsements": {"allowed": ["contact"]},
            "cancellation": {
                "method": "none",
                "refusal": "按单投保的场景保险，保障开始后不可退保",
            },
            "grace_days": 0,
            "auto_renewal": False,
        }
    # Short-term health, accident, travel, pet, phone screen, account security.
    allowed = ALL_CHANGES if line in {"accident", "travel"} else ["contact", "insured_correction"]
    return {
        "endorsements": {
            "allowed": allowed,
            "needs_approval": ["insured_correction"],
        },
        "cancellation": {"cooling_off_fee": "0", "method": "pro_rata", "fee_rate": "0.25"},
        "grace_days": 30,
        "renewal_offer_days": 30,
        "auto_renewal": renewable,
    }
