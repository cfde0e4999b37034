"""claim_terms(): a version's claims document over the coverages sold, with defaults by code."""

from __future__ import annotations

from decimal import Decimal

import pytest

from huibao.catalog.claim_terms import (
    DEFAULT_MATERIALS,
    BenefitKind,
    ClaimType,
    CoverageBasis,
    DeductibleBasis,
    HourBand,
    MaterialKind,
    claim_terms,
)
from huibao.catalog.demo.generator import generate_market
from huibao.catalog.io import schema_errors

D = Decimal


def basis(code: str, si: int = 10_000, **kw) -> CoverageBasis:
    return CoverageBasis(code=code, name=code, sum_insured=D(si), **kw)


@pytest.mark.parametrize(
    ("code", "line", "claim_type", "kind"),
    [
        ("accidental_death", "accident", ClaimType.ACCIDENT, BenefitKind.SCALE),
        ("general_medical", "medical", ClaimType.MEDICAL, BenefitKind.REIMBURSEMENT),
        ("hospital_allowance", "accident", ClaimType.HOSPITAL_CASH, BenefitKind.DAILY),
        ("critical", "critical_illness", ClaimType.CRITICAL_ILLNESS, BenefitKind.FIXED),
        ("mild", "critical_illness", ClaimType.CRITICAL_ILLNESS, BenefitKind.FIXED),
        ("total_disability", "term_life", ClaimType.DEATH, BenefitKind.FIXED),
        ("trip_delay", "travel", ClaimType.TRAVEL_DELAY, BenefitKind.HOURLY_BANDS),
        ("delay", "flight_delay", ClaimType.TRAVEL_DELAY, BenefitKind.FIXED),
        ("baggage", "travel", ClaimType.BAGGAGE, BenefitKind.REIMBURSEMENT),
        ("screen", "phone_screen", ClaimType.PHONE_SCREEN, BenefitKind.REIMBURSEMENT),
        ("pet_medical", "pet", ClaimType.PET_MEDICAL, BenefitKind.REIMBURSEMENT),
        ("water_leak", "home_property", ClaimType.HOME_DAMAGE, BenefitKind.REIMBURSEMENT),
        ("medical", "auto_compulsory", ClaimType.AUTO, BenefitKind.REIMBURSEMENT),
        ("third_party", "auto_commercial", ClaimType.AUTO, BenefitKind.REIMBURSEMENT),
        ("return_freight", "return_shipping", ClaimType.RETURN_SHIPPING, BenefitKind.FIXED),
        ("card_theft", "account_security", ClaimType.ACCOUNT_FRAUD, BenefitKind.REIMBURSEMENT),
        ("waiver", "critical_illness", ClaimType.OTHER, BenefitKind.NONE),
        ("annuity", "whole_life", ClaimType.OTHER, BenefitKind.NONE),
    ],
)
def test_a_version_that_states_nothing_takes_the_defaults_by_code(code, line, claim_type, kind):
    terms = claim_terms({}, [basis(code)], line=line)
    (coverage,) = terms.coverages
    assert (coverage.claim_type, coverage.benefit_kind) == (claim_type, kind)


def test_medical_pays_60_percent_without_social_insurance_by_default_and_limits_come_from_the_sale():
    terms = claim_terms(
        None,
        [
            basis(
                "general_medical",
                2_000_000,
                deductible=D(10_000),
                waiting_period_days=30,
                annual_limit=D(2_000_000),
            )
        ],
        line="medical",
    )
    c = terms.coverages[0]
    assert (c.ratio_with_social_insurance, c.ratio_without_social_insurance) == (D("1"), D("0.6"))
    assert (c.deductible, c.waiting_period_days, c.annual_limit) == (D("10000.00"), 30, D(2_000_000))
    assert terms.materials_for(ClaimType.MEDICAL) == DEFAULT_MATERIALS[ClaimType.MEDICAL]
    assert terms.claim_types() == (ClaimType.MEDICAL,)
    assert terms.fast_track_limit == D("2000.00") and terms.trigger is None


def test_the_document_overrides_kind_ratio_bands_exclusions_materials_and_trigger():
    doc = {
        "fast_track_limit": "500",
        "report_within_days": 30,
        "exclusions": [{"cause": "war", "text": "战争不赔"}],
        "materials": {"travel_delay": ["airline_certificate"]},
        "coverages": {
            "trip_delay": {"hour_bands": [{"hours": 4, "amount": "200"}, {"hours": 8, "amount": "400"}]},
            "general_medical": {
                "deductible_basis": "per_year",
                "ratio_without_social_insurance": "0.8",
                "item_limits": {"outpatient": "5000"},
                "exclusions": [{"cause": "cosmetic", "clause": "第六条", "text": "美容不赔"}],
            },
        },
        "trigger": {
            "kind": "flight_delay",
            "delay_hours": 3,
            "pays_on_cancellation": True,
            "plan_delay_hours": {"plus": 2},
        },
    }
    terms = claim_terms(
        doc, [basis("trip_delay", 600, per_claim_limit=D(300)), basis("general_medical")], line="travel"
    )
    delay, medical = terms.coverages
    assert delay.hour_bands == (HourBand(4, D("200.00")), HourBand(8, D("400.00")))
    assert medical.deductible_basis is DeductibleBasis.PER_YEAR
    assert medical.ratio_without_social_insurance == D("0.8000")
    assert medical.item_limits == {"outpatient": D("5000")}
    assert [e.cause for e in medical.exclusions] == ["war", "cosmetic"]
    assert terms.materials_for(ClaimType.TRAVEL_DELAY) == (MaterialKind.AIRLINE_CERTIFICATE,)
    assert (terms.fast_track_limit, terms.report_within_days) == (D("500.00"), 30)
    assert terms.trigger is not None and terms.trigger.delay_hours_for("plus") == 2
    assert terms.trigger.delay_hours_for("basic") == 3


def test_daily_and_band_defaults_read_the_catalog_limits_as_amounts():
    allowance, delay = claim_terms(
        {},
        [
            basis("hospital_allowance", 9000, per_claim_limit=D(50)),
            basis("trip_delay", 600, per_claim_limit=D(300)),
        ],
    ).coverages
    assert (allowance.daily_amount, allowance.max_days, allowance.per_claim_limit) == (D("50.00"), 180, None)
    assert delay.hour_bands == (HourBand(5, D(300)), HourBand(10, D(600)))


def test_every_demo_product_has_a_valid_claims_document_and_scenario_lines_a_trigger():
    market = generate_market(products=300)
    lines_with_trigger = set()
    for product in market.products:
        doc = product.document
        assert schema_errors(doc) == []
        claims = doc["version"]["claims"]
        if "trigger" in claims:
            lines_with_trigger.add(doc["product"]["line"])
    assert lines_with_trigger == {"flight_delay", "return_shipping"}
    # deterministic: the same seed, the same documents
    again = generate_market(products=300)
    assert [p.document["version"]["claims"] for p in again.products] == [
        p.document["version"]["claims"] for p in market.products
    ]
