"""Underwriting services against the database: automatic outcomes written on the items, cases for
referrals, aggregate limits across policies and items, and the underwriter's decision."""

from __future__ import annotations

from decimal import Decimal

import pytest

from huibao.application.models import Application
from huibao.application.services import referral
from huibao.application.services import underwriting as application_underwriting
from huibao.application.services.confirm import confirm
from huibao.application.services.data import save_data
from huibao.application.services.identity import verify_identity
from huibao.application.services.start import start_application
from huibao.application.states import ApplicationStatus
from huibao.core.errors import Conflict, PermissionDenied, ValidationFailed
from huibao.core.models import AuditEntry
from huibao.policy.models import PolicyStatus
from huibao.underwriting import services
from huibao.underwriting.models import CaseStatus, UnderwritingCase
from huibao.underwriting.tests import factories as f

pytestmark = pytest.mark.django_db


def audit_actions(app: Application) -> list[str]:
    return list(
        AuditEntry.objects.filter(object_id=str(app.public_id))
        .order_by("id")
        .values_list("action", flat=True)
    )


@pytest.fixture
def version():
    return f.product_version()


# --- automatic underwriting ------------------------------------------------------------------------


def test_a_clean_declaration_is_accepted_at_the_base_premium(version) -> None:
    # given
    app = f.application([(version, f.Insured(), 300_000, "1000.00")])

    # when
    outcome = application_underwriting.underwrite_application(app, actor="tester")

    # then
    item = app.items.get()
    assert outcome == "accept"
    assert item.underwriting_outcome == "accept" and item.underwriting_reasons == []
    assert item.premium == Decimal("1000.00") and item.loading_percent == 0
    assert audit_actions(app) == ["underwriting.accept"]
    assert not UnderwritingCase.objects.exists()
    app.refresh_from_db()
    assert app.status == ApplicationStatus.DRAFT  # the application service moves the status


def test_loading_and_exclusion_change_the_premium_and_are_audited(version) -> None:
    # given
    insured = f.Insured(answers={**f.NO, "chronic": True, "abnormal_exam": True})
    app = f.application([(version, insured, 300_000, "1234.57")])

    # when
    outcome = application_underwriting.underwrite_application(app)

    # then
    item = app.items.get()
    assert outcome == "accept_with_terms"
    assert item.loading_percent == Decimal(30)
    assert item.exclusions == ["甲状腺结节及其并发症"]
    assert item.premium == Decimal("1604.94")  # 1234.57 × 1.3 = 1604.941, to the fen
    assert [r["code"] for r in item.underwriting_reasons] == ["health_loading", "health_exclusion"]
    assert item.underwriting_reasons[0]["question"] == "chronic"
    app.refresh_from_db()
    assert app.total_premium == Decimal("1604.94")
    entry = AuditEntry.objects.get(object_id=str(app.public_id), action="underwriting.accept_with_terms")
    assert entry.object_type == "application"
    assert entry.after["item"] == 1 and entry.after["loading"] == "30.00"
    assert entry.after["exclusions"] == ["甲状腺结节及其并发症"]


def test_a_referral_opens_a_case_and_underwriting_again_withdraws_it(version) -> None:
    # given
    insured = f.Insured(answers={**f.NO, "hospitalised": True, "chronic": True})
    app = f.application([(version, insured, 300_000, "1000.00")])

    # when
    assert application_underwriting.underwrite_application(app) == "refer"

    # then
    case = UnderwritingCase.objects.get()
    item = app.items.get()
    assert case.status == CaseStatus.OPEN and case.item_id == item.pk
    assert [r["code"] for r in case.referral_reasons] == ["health_refer", "health_loading"]
    assert case.suggested_loading_percent == Decimal(30)
    assert item.underwriting_outcome == "refer" and item.premium == Decimal("1000.00")

    # when: underwritten again (e.g. after an amendment)
    assert application_underwriting.underwrite_application(app) == "refer"

    # then
    assert list(UnderwritingCase.objects.order_by("id").values_list("status", flat=True)) == [
        "withdrawn",
        "open",
    ]
    assert audit_actions(app) == ["underwriting.refer", "underwriting.case_withdrawn", "underwriting.refer"]


def test_the_worst_item_decides_the_application(version) -> None:
    # given: a bundle, the second product knocks the insured out
    other = f.product_version(name="另一款重疾险")
    insured = f.Insured(answers={**f.NO, "cancer": True})
    ok = f.product_version(questions=(), name="意外险")
    app = f.application([(ok, insured, 100_000, 50), (other, insured, 100_000, 500)])

    # when
    outcome = application_underwriting.underwrite_application(app)

    # then
    assert outcome == "decline"
    assert list(app.items.order_by("position").values_list("underwriting_outcome", flat=True)) == [
        "accept",
        "decline",
    ]
    declined = app.items.get(position=2)
    assert declined.underwriting_reasons[0]["message"].endswith("不符合本产品的承保条件")


def test_an_unanswered_question_is_refused_and_changes_nothing(version) -> None:
    # given
    app = f.application([(version, f.Insured(answers={"hospitalised": False}), 300_000, 1000)])

    # when
    with pytest.raises(ValidationFailed) as exc:
        application_underwriting.underwrite_application(app)

    # then
    assert {e.field for e in exc.value.errors} == {
        "insured[0].health_answers.chronic",
        "insured[0].health_answers.abnormal_exam",
        "insured[0].health_answers.cancer",
    }
    assert app.items.get().underwriting_outcome == "pending"
    assert audit_actions(app) == []


def test_age_referral_uses_the_insured_birth_date(version) -> None:
    app = f.application([(version, f.Insured(birth=f.years_ago(56)), 300_000, 1000)])
    assert application_underwriting.underwrite_application(app) == "refer"
    assert app.items.get().underwriting_reasons[0]["code"] == "refer_age"


# --- aggregate death limits --------------------------------------------------------------------------


def test_a_child_over_the_aggregate_death_limit_is_declined_counting_live_policies_only(version) -> None:
    # given: a 5-year-old with ¥150,000 death cover in force and ¥80,000 cancelled
    child = f.Insured(birth=f.years_ago(5), relation="child", name="王小小")
    f.policy_in_force(child, 150_000)
    f.policy_in_force(child, 80_000, status=PolicyStatus.SURRENDERED)
    app = f.application([(version, child, 100_000, 300)])

    # when
    outcome = application_underwriting.underwrite_application(app)

    # then: 150,000 + 100,000 > 200,000 (the cancelled policy does not count)
    assert outcome == "decline"
    reason = app.items.get().underwriting_reasons[0]
    assert reason["code"] == "aggregate_death_limit"
    assert "已有身故保险金15万元，本单10万元，合计25万元" in reason["message"]


def test_earlier_items_of_the_same_application_count_for_the_same_insured(version) -> None:
    # given: two products for the same 8-year-old, ¥150,000 of death cover each
    child = f.Insured(birth=f.years_ago(8), relation="child", name="王小小")
    second = f.product_version(name="第二款")
    sibling = f.Insured(birth=f.years_ago(6), relation="child", name="王小二")
    app = f.application(
        [(version, child, 150_000, 300), (second, child, 150_000, 300), (second, sibling, 150_000, 300)]
    )

    # when
    application_underwriting.underwrite_application(app)

    # then: the first fits, the second exceeds ¥200,000 together; the sibling is separate
    outcomes = list(app.items.order_by("position").values_list("underwriting_outcome", flat=True))
    assert outcomes == ["accept", "decline", "accept"]


def test_cover_without_death_benefit_does_not_count(version) -> None:
    child = f.Insured(birth=f.years_ago(5), relation="child")
    f.policy_in_force(child, 200_000)
    medical = f.product_version(coverages=(("general_medical", "一般医疗保险金", 2_000_000),), name="医疗险")
    app = f.application([(medical, child, None, 300)])
    assert application_underwriting.underwrite_application(app) == "accept"


# --- the underwriter's decision ----------------------------------------------------------------------


def referred(version, *answers: dict[str, bool]) -> Application:
    """A referred application with one referred item per answer set."""
    items = [
        (version, f.Insured(answers={**f.NO, **a}, name=f"王{i}明"), 300_000, "1000.00")
        for i, a in enumerate(answers)
    ]
    app = f.application(items)
    assert application_underwriting.underwrite_application(app) == "refer"
    Application.objects.filter(pk=app.pk).update(status=ApplicationStatus.REFERRED)
    app.refresh_from_db()
    return app


def test_deciding_the_last_case_writes_the_terms_and_resumes_the_application(version) -> None:
    # given
    app = referred(version, {"hospitalised": True})
    case = UnderwritingCase.objects.get()
    uw = f.underwriter()

    # when
    decided = referral.decide_case(
        case,
        decision="accept_with_terms",
        underwriter=uw,
        reasons="住院原因为阑尾炎，已痊愈；加费承保",
        loading_percent=Decimal("50"),
        exclusions=["阑尾相关疾病", " ", "阑尾相关疾病"],
    )

    # then
    assert decided.status == CaseStatus.DECIDED and decided.decided_by == uw and decided.decided_at
    assert decided.exclusions == ["阑尾相关疾病"]
    item = app.items.get()
    assert item.underwriting_outcome == "accept_with_terms"
    assert item.premium == Decimal("1500.00") and item.loading_percent == Decimal(50)
    assert item.underwriting_reasons[0]["code"] == "underwriter_accept_with_terms"
    app.refresh_from_db()
    assert app.status == ApplicationStatus.ACCEPTED and app.terms_agreed_at is None
    assert app.total_premium == Decimal("1500.00")
    entry = AuditEntry.objects.get(object_id=str(app.public_id), action="underwriting.case_decided")
    assert entry.actor_id == uw.pk
    assert entry.before["status"] == "open" and entry.after["decision"] == "accept_with_terms"


def test_the_application_waits_for_every_case_and_a_decline_waits_for_the_customer(version) -> None:
    # given
    app = referred(version, {"hospitalised": True}, {"hospitalised": True})
    first, second = UnderwritingCase.objects.order_by("id")
    uw = f.underwriter()

    # when
    referral.decide_case(first, decision="accept", underwriter=uw, reasons="已复查正常")

    # then
    app.refresh_from_db()
    assert app.status == ApplicationStatus.REFERRED

    # when
    referral.decide_case(second, decision="decline", underwriter=uw, reasons="住院原因为肝硬化，拒保")

    # then: the other insured was accepted: the customer may go on without the declined one
    app.refresh_from_db()
    assert app.status == ApplicationStatus.ACCEPTED
    assert app.total_premium == Decimal("1000.00")
    from huibao.application.journey import missing_before_signing

    assert "item_declined" in [e.code for e in missing_before_signing(app)]


def test_declining_every_referred_item_declines_the_application(version) -> None:
    app = referred(version, {"hospitalised": True}, {"hospitalised": True})
    uw = f.underwriter()
    for case in UnderwritingCase.objects.order_by("id"):
        referral.decide_case(case, decision="decline", underwriter=uw, reasons="拒保")
    app.refresh_from_db()
    assert app.status == ApplicationStatus.DECLINED and app.total_premium == 0


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"decision": "accept", "reasons": "  "}, "decision_reasons"),
        ({"decision": "maybe", "reasons": "x"}, "decision"),
        ({"decision": "accept", "reasons": "x", "loading_percent": 20}, "loading_percent"),
        ({"decision": "decline", "reasons": "x", "exclusions": ["a"]}, "exclusions"),
        ({"decision": "accept_with_terms", "reasons": "x"}, "loading_percent"),
        ({"decision": "accept_with_terms", "reasons": "x", "loading_percent": 301}, "loading_percent"),
        ({"decision": "accept_with_terms", "reasons": "x", "loading_percent": -1}, "loading_percent"),
        ({"decision": "accept_with_terms", "reasons": "x", "loading_percent": "abc"}, "loading_percent"),
    ],
)
def test_an_incomplete_decision_is_refused_and_changes_nothing(version, kwargs, field) -> None:
    # given
    app = referred(version, {"hospitalised": True})
    case = UnderwritingCase.objects.get()

    # when
    with pytest.raises(ValidationFailed) as exc:
        referral.decide_case(case, underwriter=f.underwriter(), **kwargs)

    # then
    assert field in {e.field for e in exc.value.errors}
    case.refresh_from_db()
    assert case.status == CaseStatus.OPEN
    assert app.items.get().underwriting_outcome == "refer"


def test_a_closed_case_cannot_be_decided_and_only_underwriters_decide(version) -> None:
    app = referred(version, {"hospitalised": True})
    case = UnderwritingCase.objects.get()
    with pytest.raises(PermissionDenied):
        referral.decide_case(
            case, decision="accept", underwriter=f.underwriter("viewer", can_decide=False), reasons="x"
        )
    uw = f.underwriter()
    referral.decide_case(case, decision="accept", underwriter=uw, reasons="ok")
    with pytest.raises(Conflict):
        referral.decide_case(case, decision="decline", underwriter=uw, reasons="changed my mind")
    assert UnderwritingCase.objects.get().decision == "accept"
    # a withdrawn case neither
    app2 = referred(version, {"hospitalised": True})
    assert services.withdraw_open_cases(app2) == 1
    with pytest.raises(Conflict):
        referral.decide_case(
            UnderwritingCase.objects.get(item__application=app2),
            decision="accept",
            underwriter=uw,
            reasons="x",
        )
    assert app.items.get().underwriting_outcome == "accept"


def test_withdraw_open_cases_counts_and_audits(version) -> None:
    app = referred(version, {"hospitalised": True}, {"hospitalised": True})
    assert services.withdraw_open_cases(app, actor="system") == 2
    assert services.withdraw_open_cases(app) == 0
    assert audit_actions(app).count("underwriting.case_withdrawn") == 2
    assert set(UnderwritingCase.objects.values_list("status", flat=True)) == {"withdrawn"}
    assert all(c.withdrawn_at for c in UnderwritingCase.objects.all())


# --- through the application flow ---------------------------------------------------------------


def test_the_application_flow_refers_then_resumes_after_the_decision() -> None:
    from huibao.application.tests import factories as af

    # given: a product whose rules refer a past hospital stay
    product = af.simple_product(
        health_questions=[
            {"code": "hospitalised", "text": "过去2年内是否曾住院？", "knock_out_answer": True}
        ],
        underwriting={"questions": {"hospitalised": {"on_yes": "refer"}}},
    )
    user = af.customer()
    app = start_application(quote_ids=[af.quote(product, user).pk], user=user)
    d = af.data(answers={"hospitalised": True})
    save_data(app, d, actor=user)
    verify_identity(app, name=d.applicant.name, id_number=d.applicant.id_number, user=user)

    # when
    app = confirm(app, user=user)

    # then
    assert app.status == ApplicationStatus.REFERRED
    case = UnderwritingCase.objects.get(item__application=app, status=CaseStatus.OPEN)

    # when
    referral.decide_case(case, decision="accept", underwriter=f.underwriter(), reasons="住院为分娩，正常")

    # then
    app.refresh_from_db()
    assert app.status == ApplicationStatus.ACCEPTED


# --- aggregate limits across open applications (review) ------------------------------------------


def test_open_confirmed_applications_of_the_same_insured_count_towards_the_aggregate(version) -> None:
    # given: an 8-year-old with ¥150,000 of death cover in an accepted, not yet issued application
    child = f.Insured(birth=f.years_ago(8), relation="child", name="王小小")
    first = f.application([(version, child, 150_000, 300)])
    assert application_underwriting.underwrite_application(first) == "accept"
    Application.objects.filter(pk=first.pk).update(status=ApplicationStatus.ACCEPTED)
    other = f.product_version(name="另一家的重疾险")
    second = f.application([(other, f.Insured(birth=child.birth, id_number=child.id_number), 150_000, 300)])

    # when: a second application of the same child, at another insurer
    outcome = application_underwriting.underwrite_application(second)

    # then: ¥300,000 together exceeds ¥200,000
    assert outcome == "decline"
    assert second.items.get().underwriting_reasons[0]["code"] == "aggregate_death_limit"


@pytest.mark.parametrize(
    ("status", "first_outcome"),
    [
        (ApplicationStatus.DRAFT, "accept"),  # not confirmed: claims nothing yet
        (ApplicationStatus.CANCELLED, "accept"),
        (ApplicationStatus.ACCEPTED, "decline"),  # its declined item claims nothing
    ],
)
def test_drafts_closed_applications_and_declined_items_do_not_count(version, status, first_outcome) -> None:
    child = f.Insured(birth=f.years_ago(8), relation="child", name="王小小")
    first = f.application([(version, child, 150_000, 300)])
    application_underwriting.underwrite_application(first)
    first.items.update(underwriting_outcome=first_outcome)
    Application.objects.filter(pk=first.pk).update(status=status)
    second = f.application([(version, f.Insured(birth=child.birth, id_number=child.id_number), 150_000, 300)])
    assert application_underwriting.underwrite_application(second) == "accept"


@pytest.mark.django_db(transaction=True)
def test_two_applications_of_the_same_child_confirmed_at_once_cannot_both_pass_the_cap(monkeypatch) -> None:
    import contextlib
    import threading

    from django.db import connections, transaction

    # PostgreSQL: the second confirmation waits on the insured persons' row locks. SQLite: it
    # waits for the first writer's transaction (IMMEDIATE mode). Either way it reads after.
    version = f.product_version()
    child = f.Insured(birth=f.years_ago(8), relation="child", name="王小小")
    apps = [
        f.application([(version, child, 150_000, 300)]),
        f.application([(version, f.Insured(birth=child.birth, id_number=child.id_number), 150_000, 300)]),
    ]
    # Both reach the read of what the child already has at the same moment, unless one waits
    # for the other's lock (then the barrier times out and it reads after the other committed).
    barrier = threading.Barrier(2, timeout=3)
    original = application_underwriting.existing_death_benefit

    def meet_then_read(*args, **kwargs):
        with contextlib.suppress(threading.BrokenBarrierError):
            barrier.wait()
        return original(*args, **kwargs)

    monkeypatch.setattr(application_underwriting, "existing_death_benefit", meet_then_read)
    outcomes: dict[int, str] = {}

    def confirm(app: Application) -> None:
        try:
            with transaction.atomic():
                Application.objects.select_for_update().get(pk=app.pk)
                outcome = application_underwriting.underwrite_application(app)
                status = ApplicationStatus.DECLINED if outcome == "decline" else ApplicationStatus.ACCEPTED
                Application.objects.filter(pk=app.pk).update(status=status)
            outcomes[app.pk] = outcome
        finally:
            connections.close_all()

    threads = [threading.Thread(target=confirm, args=(app,)) for app in apps]
    for t in threads:
        t.start()
    for t in threads:
        t.join(20)

    assert sorted(outcomes.values()) == ["accept", "decline"]
