"""The adjusters' desk pages and staff API: the queue, the review page with materials inline,
decisions with field errors (nothing changed), four eyes, insurer isolation (404), appeals from
the customer's page and the API."""

from __future__ import annotations

import io
import json
from decimal import Decimal

import pytest
from django.test import Client
from django.urls import reverse

from huibao.claim import limits
from huibao.claim.decisions import Decision, decide
from huibao.claim.models import InsurerClaimSettings
from huibao.claim.services import upload_material
from huibao.claim.states import ClaimStatus, DecisionKind
from huibao.claim.tests.adjud_factories import adjuster, complete_claim, under_review
from huibao.claim.tests.factories import jpeg
from huibao.provider.tests.factories import login

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


def _other_insurer():
    from huibao.catalog.models import Insurer

    return Insurer.objects.get_or_create(
        code="other-ins", defaults={"name": "另一家保险公司", "short_name": "另一家", "kind": "property"}
    )[0]


@pytest.fixture
def claim():
    return under_review(complete_claim())


def _session(user) -> Client:
    return login(Client(), user)


def test_the_queue_lists_claims_with_time_and_links_to_the_review(claim):
    # given
    web = _session(adjuster("alice"))
    # when
    page = web.get(reverse("claim:desk"))
    # then
    assert page.status_code == 200
    body = page.content.decode()
    assert claim.number in body and reverse("claim:desk_review", args=[claim.public_id]) in body
    assert 'data-testid="desk-stats"' in body


def test_the_review_page_shows_materials_inline_the_preview_and_the_policy(claim):
    # given
    web = _session(adjuster("alice"))
    # when
    page = web.get(reverse("claim:desk_review", args=[claim.public_id]))
    # then
    body = page.content.decode()
    assert page.status_code == 200
    assert '<img src="/claims/desk/materials/' in body and 'data-testid="pdf"' in body
    assert "应赔付金额" in body and "8600.00" in body and "一般医疗保险金" in body
    assert "尾号" not in body and "6222020200112345679" not in body  # the account is masked
    material = claim.materials.filter(content_type="image/jpeg").first()
    image = web.get(reverse("claim:desk_material", args=[material.public_id]))
    assert image.status_code == 200 and image["Content-Type"] == "image/jpeg"
    assert "no-store" in image["Cache-Control"]


def test_another_insurers_adjuster_gets_404_everywhere(claim):
    # given
    web = _session(adjuster("outsider", insurer=_other_insurer()))
    material = claim.materials.first()
    # then
    assert web.get(reverse("claim:desk_review", args=[claim.public_id])).status_code == 404
    assert (
        web.post(reverse("claim:desk_act", args=[claim.public_id, "decide"]), {"kind": "approve"}).status_code
        == 404
    )
    assert web.get(reverse("claim:desk_material", args=[material.public_id])).status_code == 404
    assert web.get(f"/api/v1/claims/desk/claims/{claim.public_id}").status_code == 404
    assert claim.number not in web.get(reverse("claim:desk")).content.decode()
    claim.refresh_from_db()
    assert claim.status == ClaimStatus.UNDER_REVIEW


def test_a_customer_cannot_reach_the_desk(claim):
    # given
    web = Client()
    web.force_login(claim.claimant)
    # then
    assert web.get(reverse("claim:desk")).status_code == 302  # to the staff log-in
    api = web.get("/api/v1/claims/desk/queue")
    assert api.status_code == 403 and api.json()["code"] == "staff_only"


def test_a_partial_above_the_benefit_on_the_page_names_the_field_and_changes_nothing(claim):
    # given
    web = _session(adjuster("alice"))
    # when
    page = web.post(
        reverse("claim:desk_act", args=[claim.public_id, "decide"]),
        {"kind": "partial", "amount": "9000", "reason_code": "other"},
    )
    # then
    assert page.status_code == 422
    assert (
        'data-testid="error-amount"' in page.content.decode()
        and "不能超过核算的应赔付金额" in page.content.decode()
    )
    claim.refresh_from_db()
    assert claim.status == ClaimStatus.UNDER_REVIEW and claim.decision_kind == ""
    assert limits.live_entries(claim.number) == []
    # and a denial without a reason
    page = web.post(reverse("claim:desk_act", args=[claim.public_id, "decide"]), {"kind": "deny"})
    assert page.status_code == 422 and 'data-testid="error-reason"' in page.content.decode()


def test_approve_on_the_page_pays(claim):
    # given
    web = _session(adjuster("alice"))
    # when
    done = web.post(reverse("claim:desk_act", args=[claim.public_id, "decide"]), {"kind": "approve"})
    # then
    assert done.status_code == 302
    claim.refresh_from_db()
    assert claim.status == ClaimStatus.PAYING and claim.approved_amount == Decimal("8600.00")


def test_four_eyes_through_the_api_refuses_the_same_adjuster_and_takes_another(claim):
    # given
    InsurerClaimSettings.objects.create(insurer=claim.insurer, four_eyes_amount=Decimal("1000"))
    alice, bob = _session(adjuster("alice")), _session(adjuster("bob"))
    url = f"/api/v1/claims/desk/claims/{claim.public_id}"
    # when
    proposed = alice.post(f"{url}/decide", json.dumps({"kind": "approve"}), content_type="application/json")
    # then
    assert proposed.status_code == 200
    assert (
        proposed.json()["status"] == "under_review"
        and proposed.json()["pending_approval"]["amount"] == "8600.00"
    )
    same = alice.post(f"{url}/confirm", json.dumps({}), content_type="application/json")
    assert same.status_code == 403 and same.json()["code"] == "same_adjuster"
    confirmed = bob.post(f"{url}/confirm", json.dumps({"note": "ok"}), content_type="application/json")
    assert confirmed.status_code == 200 and confirmed.json()["status"] == "paying"


def test_api_bad_decisions_answer_the_one_error_shape(claim):
    # given
    api = _session(adjuster("alice"))
    url = f"/api/v1/claims/desk/claims/{claim.public_id}/decide"
    # when
    zero = api.post(
        url,
        json.dumps({"kind": "partial", "amount": "0", "reason_code": "other"}),
        content_type="application/json",
    )
    words = api.post(
        url,
        json.dumps({"kind": "partial", "amount": "abc", "reason_code": "other"}),
        content_type="application/json",
    )
    nothing = api.post(url, json.dumps({"kind": "deny"}), content_type="application/json")
    unknown = api.post(
        f"/api/v1/claims/desk/claims/{claim.public_id}/explode",
        json.dumps({}),
        content_type="application/json",
    )
    # then
    assert zero.status_code == 422 and zero.json()["errors"][0]["field"] == "amount"
    assert words.status_code == 422 and words.json()["errors"][0] == {
        "field": "amount",
        "code": "amount_invalid",
        "message": "金额格式不正确",
    }
    assert nothing.status_code == 422 and nothing.json()["errors"][0]["code"] == "reason_required"
    assert unknown.status_code == 404
    claim.refresh_from_db()
    assert claim.status == ClaimStatus.UNDER_REVIEW


def test_the_api_queue_flags_and_filters(claim):
    # given
    api = _session(adjuster("alice"))
    # when
    rows = api.get("/api/v1/claims/desk/queue?claim_type=medical").json()
    none = api.get("/api/v1/claims/desk/queue?region=44").json()
    # then
    assert [r["number"] for r in rows] == [claim.number] and rows[0]["overdue"] is False
    assert rows[0]["decision_due"] is not None and none == []


def test_the_customer_appeals_a_denial_on_the_page_and_a_senior_upholds_it_on_the_desk(claim):
    # given
    decider = adjuster("alice")
    decide(claim, Decision(DecisionKind.DENY, reason_code="insufficient_evidence"), actor=decider)
    senior = adjuster("senior", senior=True)
    owner = Client()
    owner.force_login(claim.claimant)
    detail = reverse("claim:detail", args=[claim.public_id])
    assert 'data-testid="appeal-form"' in owner.get(detail).content.decode()
    # bad input
    bad = owner.post(detail, {"action": "appeal", "reason": ""})
    assert bad.status_code == 422 and 'data-testid="error-reason"' in bad.content.decode()
    # when
    assert owner.post(detail, {"action": "appeal", "reason": "补充了出院小结"}).status_code == 302
    upload_material(claim.claimant, claim.public_id, kind="discharge_summary", file=io.BytesIO(jpeg("white")))
    web = _session(senior)
    page = web.get(reverse("claim:desk_review", args=[claim.public_id]))
    assert 'data-testid="uphold"' in page.content.decode()
    done = web.post(reverse("claim:desk_act", args=[claim.public_id, "uphold"]), {"note": "材料充分"})
    # then
    assert done.status_code == 302
    claim.refresh_from_db()
    assert claim.status == ClaimStatus.UNDER_REVIEW and claim.assigned_to == senior


def test_the_customer_appeal_api(claim):
    # given
    decide(claim, Decision(DecisionKind.DENY, reason_code="other"), actor=adjuster("alice"))
    owner = Client()
    owner.force_login(claim.claimant)
    # when
    empty = owner.post(
        f"/api/v1/claims/{claim.public_id}/appeal",
        json.dumps({"reason": " "}),
        content_type="application/json",
    )
    done = owner.post(
        f"/api/v1/claims/{claim.public_id}/appeal",
        json.dumps({"reason": "有新证据"}),
        content_type="application/json",
    )
    again = owner.post(
        f"/api/v1/claims/{claim.public_id}/appeal",
        json.dumps({"reason": "再次"}),
        content_type="application/json",
    )
    # then
    assert empty.status_code == 422 and empty.json()["errors"][0]["field"] == "reason"
    assert done.status_code == 200 and done.json()["status"] == "appealed"
    assert again.status_code == 409
