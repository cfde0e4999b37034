"""The demo market's claims documents (`ProductVersion.claims`), one shape per line.

Deterministic (no random draws, so the rest of the generated market does not move): what the
market's clauses commonly say — the report time limit, the materials per claim type, the
exclusions a claim's reported cause can show, the social-insurance ratio of medical covers, and,
for the flight-delay and return-shipping products, the event that pays without a claim.
Amounts and limits stay on the plans' coverages (`claim_terms` reads them there).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

PRE_EXISTING = {
    "cause": "pre_existing",
    "clause": "第六条第（一）款",
    "text": "投保前已患有的疾病（既往症）导致的损失不予赔偿",
}
DRUNK_DRIVING = {
    "cause": "drunk_driving",
    "clause": "第七条第（二）款",
    "text": "酒后驾驶、无证驾驶导致的事故不予赔偿",
}
INTENTIONAL = {
    "cause": "intentional",
    "clause": "第五条第（一）款",
    "text": "投保人、被保险人的故意行为导致的损失不予赔偿",
}
WAR = {"cause": "war", "clause": "第五条第（三）款", "text": "战争、军事冲突、暴乱导致的损失不予赔偿"}
COSMETIC = {
    "cause": "cosmetic",
    "clause": "第六条第（四）款",
    "text": "美容、整形及非治疗必需的手术费用不予赔偿",
}
WEAR = {"cause": "wear", "clause": "第四条第（二）款", "text": "自然磨损、老化及使用中的正常损耗不予赔偿"}

# Report within (days) after the incident: scenario covers want it quickly, health two years
# (保险法第二十六条: the right to claim lapses after two years for non-life insurance).
REPORT_WITHIN = {
    "phone_screen": 30,
    "return_shipping": 15,
    "flight_delay": 30,
    "travel": 90,
    "account_security": 30,
    "auto_compulsory": 30,
    "auto_commercial": 30,
    "home_property": 60,
    "pet": 60,
}


def _medical_covers(codes: Sequence[str]) -> dict[str, Any]:
    covers: dict[str, Any] = {}
    for code in codes:
        if code == "general_medical":
            covers[code] = {
                "deductible_basis": "per_year",
                "ratio_without_social_insurance": "0.6",
                "item_limits": {"outpatient": "5000"},
                "exclusions": [COSMETIC],
            }
        elif code in {"critical_medical", "outpatient"}:
            covers[code] = {"ratio_without_social_insurance": "0.6"}
    return covers


def claims_for(line: str, plans: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """The claims document of a product of `line` with these plans (documents of the generator)."""
    codes = sorted({str(c["code"]) for p in plans for c in p.get("coverages", [])})
    doc: dict[str, Any] = {"fast_track_limit": "2000"}
    if line in REPORT_WITHIN:
        doc["report_within_days"] = REPORT_WITHIN[line]
    if line in {"medical", "critical_illness", "term_life", "whole_life"}:
        doc["exclusions"] = [PRE_EXISTING, INTENTIONAL]
    elif line in {"auto_compulsory", "auto_commercial"}:
        doc["exclusions"] = [DRUNK_DRIVING, INTENTIONAL]
    elif line in {"phone_screen", "home_property"}:
        doc["exclusions"] = [WEAR, INTENTIONAL]
    else:
        doc["exclusions"] = [INTENTIONAL, WAR]
    if line == "medical":
        doc["coverages"] = _medical_covers(codes)
        doc["materials"] = {
            "medical": ["id_card", "invoice", "expense_list", "diagnosis", "discharge_summary"]
        }
    elif line in {"accident", "travel"}:
        covers: dict[str, Any] = {}
        if "hospital_allowance" in codes:
            covers["hospital_allowance"] = {"max_days": 180}
        if "trip_delay" in codes:
            covers["trip_delay"] = {
                "hour_bands": [{"hours": 5, "amount": "300"}, {"hours": 10, "amount": "600"}]
            }
        if covers:
            doc["coverages"] = covers
    elif line == "flight_delay":
        hours = {
            str(p["code"]): int(str(p["coverages"][0]["name"]).split("延误")[1].split("小时")[0])
            for p in plans
        }
        doc["trigger"] = {
            "kind": "flight_delay",
            "delay_hours": max(hours.values()),
            "pays_on_cancellation": True,
            "plan_delay_hours": hours,
        }
        doc["materials"] = {"travel_delay": ["id_card", "airline_certificate"]}
    elif line == "return_shipping":
        doc["trigger"] = {"kind": "return_shipping"}
        doc["fast_track_limit"] = "100"
    elif line == "pet":
        doc["coverages"] = {"pet_medical": {"item_limits": {"surgery": "3000"}}}
    return doc
