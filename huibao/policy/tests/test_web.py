"""Policy pages through Django's test client: public verification (no personal data), PDF check,
the customer's policies (only their own), e-policy download, NPS."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from huibao.core.models import AuditEntry
from huibao.esign.pdf import verify_pdf
from huibao.policy import documents
from huibao.policy.models import NpsResponse
from huibao.policy.tests import factories as f

pytestmark = pytest.mark.django_db


@pytest.fixture
def owner():
    return f.customer("13900003333")


@pytest.fixture
def policy(owner):
    version = f.product_version(insurer_code="zhongan")
    person = f.Person(beneficiaries=[("王大宝", "child", Decimal(100))])
    app = f.application([(version, person, 500_000, "320.00", {"term": "1y"})], customer=owner)
    return f.issue(app)[0]


def personal_data(policy) -> list[str]:
    app = policy.application
    insured = app.insured_persons.get()
    return [
        app.applicant_id_number,
        insured.id_number,
        insured.id_number[-4:],
        app.applicant_phone,
        policy.holder_name,
        policy.insured_name,
        "王大宝",
        insured.birth_date.isoformat(),
        f"{insured.birth_date:%Y年%-m月%-d日}",
    ]


# --- verification -----------------------------------------------------------------------------------


def test_verification_page_confirms_the_policy_without_personal_data(client, policy) -> None:
    response = client.get(f"/policy/verify/{policy.verification_code}/")
    html = response.content.decode()
    assert response.status_code == 200
    assert 'data-genuine="true"' in html and "这是汇保平台签发的真实保单" in html
    for shown in (policy.number, "汇保安心重疾险", policy.insurer.name, "待生效", "王**", "李**"):
        assert shown in html, shown
    for secret in personal_data(policy):
        assert secret not in html, secret
    assert response["X-Robots-Tag"] == "noindex"
    # the URL (it holds the code) goes to no other site, but the page's own forms keep an Origin
    assert response["Referrer-Policy"] == "same-origin"


def test_unknown_code_says_it_is_not_genuine(client, policy) -> None:
    response = client.get("/policy/verify/not-a-real-code/")
    assert response.status_code == 404
    html = response.content.decode()
    assert 'data-genuine="false"' in html and "这不是汇保平台签发的真实保单" in html


def test_lookup_by_number_and_code(client, policy) -> None:
    response = client.post(
        "/policy/verify/",
        {"action": "lookup", "number": policy.number.lower(), "code": policy.verification_code},
    )
    assert (
        response.status_code == 302 and response["Location"] == f"/policy/verify/{policy.verification_code}/"
    )
    # a right number with a wrong code, or a right code with another number: not genuine
    wrong = client.post("/policy/verify/", {"action": "lookup", "number": policy.number, "code": "guess"})
    assert wrong.status_code == 404 and "这不是汇保平台签发的真实保单" in wrong.content.decode()
    other = client.post(
        "/policy/verify/",
        {"action": "lookup", "number": "ZHONGA202699999999", "code": policy.verification_code},
    )
    assert other.status_code == 404
    empty = client.post("/policy/verify/", {"action": "lookup", "number": "", "code": ""})
    assert empty.status_code == 422 and "请填写保单号" in empty.content.decode()


def test_uploaded_epolicy_is_recognised_and_a_changed_copy_is_not(client, policy) -> None:
    pdf = documents.render_epolicy(policy).pdf
    response = client.post(
        "/policy/verify/",
        {"action": "upload", "file": SimpleUploadedFile("p.pdf", pdf, content_type="application/pdf")},
    )
    html = response.content.decode()
    assert response.status_code == 200
    assert 'data-valid="true"' in html and 'data-match="true"' in html and policy.number in html
    for secret in personal_data(policy):
        assert secret not in html, secret
    at = pdf.index(b"ReportLab")
    tampered = pdf[:at] + b"X" + pdf[at + 1 :]
    response = client.post(
        "/policy/verify/",
        {"action": "upload", "file": SimpleUploadedFile("p.pdf", tampered, content_type="application/pdf")},
    )
    html = response.content.decode()
    assert 'data-valid="false"' in html and 'data-match="false"' in html
    garbage = client.post(
        "/policy/verify/", {"action": "upload", "file": SimpleUploadedFile("x.pdf", b"hello")}
    )
    assert garbage.status_code == 200 and 'data-valid="false"' in garbage.content.decode()


def incremental_update(pdf: bytes) -> bytes:
    """`pdf` with an incremental update appended that replaces its document information (a change
    pyHanko's rules accept after a signature)."""
    import io

    from pyhanko.pdf_utils import generic
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter

    writer = IncrementalPdfFileWriter(io.BytesIO(pdf))
    writer.set_info(
        generic.DictionaryObject({generic.NameObject("/Producer"): generic.TextStringObject("x")})
    )
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def upload(client, data: bytes) -> str:
    response = client.post(
        "/policy/verify/",
        {"action": "upload", "file": SimpleUploadedFile("p.pdf", data, content_type="application/pdf")},
    )
    assert response.status_code == 200
    return response.content.decode()


def test_verification_never_says_unmodified_of_a_file_changed_after_signing(client, policy) -> None:
    # given the issued e-policy, and two copies changed after signing without touching the signed
    # bytes: bytes appended after %%EOF, and an incremental update
    pdf = documents.render_epolicy(policy).pdf
    appended = pdf + b"\n% appended after signing\n"
    updated = incremental_update(pdf)
    # when each is uploaded
    untouched_html, appended_html, updated_html = (upload(client, d) for d in (pdf, appended, updated))
    # then the changed ones keep the true part (the platform's signature over what it signed) and
    # say what was done after signing; nothing on them says the file was not modified
    for html, added in (
        (appended_html, "文件在签署后被追加了内容"),
        (updated_html, "文件在签署后被增量修改过"),
    ):
        assert "签署后未被修改" not in html
        assert "电子签章由汇保平台证书签署，签章所覆盖的内容未被改动" in html
        assert added in html
        assert 'data-valid="false"' in html and 'data-whole="false"' in html and 'data-match="false"' in html
        assert "verdict--ok" not in html
    # and the untouched file reads as signed, whole and issued
    assert "签署后未被修改" in untouched_html
    assert 'data-valid="true"' in untouched_html and 'data-whole="true"' in untouched_html
    assert 'data-match="true"' in untouched_html and "verdict--ok" in untouched_html


def test_verification_is_rate_limited_per_address(client, policy) -> None:
    from huibao.policy.web import views

    for _ in range(views.VERIFY_LIMIT):
        client.get("/policy/verify/nope/")
    assert client.get(f"/policy/verify/{policy.verification_code}/").status_code == 429


# --- my policies --------------------------------------------------------------------------------------


def test_my_policies_shows_only_my_own(client, owner, policy) -> None:
    stranger = f.customer("13900004444")
    theirs = f.simple_issued(stranger)
    client.force_login(owner)
    html = client.get("/policy/mine/").content.decode()
    assert policy.number in html and theirs.number not in html
    assert client.get(f"/policy/mine/{policy.public_id}/").status_code == 200
    assert client.get(f"/policy/mine/{theirs.public_id}/").status_code == 404
    assert client.get(f"/policy/mine/{theirs.public_id}/epolicy.pdf").status_code == 404


def test_my_policies_need_a_login(client, policy) -> None:
    response = client.get("/policy/mine/")
    assert response.status_code == 302 and "/account/login/" in response["Location"]
    assert client.get(f"/policy/mine/{policy.public_id}/epolicy.pdf").status_code == 302


def test_detail_shows_my_policy_with_ids_masked(client, owner, policy) -> None:
    client.force_login(owner)
    html = client.get(f"/policy/mine/{policy.public_id}/").content.decode()
    app = policy.application
    assert f.INSURED_NAME in html and "王大宝" in html and "重大疾病保险金" in html
    assert app.applicant_id_number not in html
    assert app.applicant_id_number[-4:] in html  # masked form
    assert f"/policy/nps/{app.public_id}/" in html


def test_download_renders_on_demand_and_is_audited(client, owner, policy) -> None:
    assert policy.epolicy_id is None
    client.force_login(owner)
    response = client.get(f"/policy/mine/{policy.public_id}/epolicy.pdf")
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    assert f"epolicy-{policy.number}.pdf" in response["Content-Disposition"]
    assert verify_pdf(response.content).valid
    policy.refresh_from_db()
    assert policy.epolicy_id is not None
    assert AuditEntry.objects.filter(action="policy.epolicy_downloaded", object_id=policy.number).count() == 1
    # the same bytes next time
    assert client.get(f"/policy/mine/{policy.public_id}/epolicy.pdf").content == response.content


# --- NPS ----------------------------------------------------------------------------------------------


def test_nps_page_records_once(client, owner, policy) -> None:
    client.force_login(owner)
    url = f"/policy/nps/{policy.application.public_id}/"
    page = client.get(url)
    assert page.status_code == 200 and 'name="score"' in page.content.decode()
    bad = client.post(url, {"score": "11", "comment": "x"})
    assert bad.status_code == 422 and "0到10" in bad.content.decode()
    ok = client.post(url, {"score": "9", "comment": "很方便"})
    assert ok.status_code == 200 and 'data-testid="nps-thanks"' in ok.content.decode()
    client.post(url, {"score": "2", "comment": "again"})
    assert list(NpsResponse.objects.values_list("score", "comment")) == [(9, "很方便")]


def test_nps_page_of_someone_elses_application_is_404(client, policy) -> None:
    client.force_login(f.customer("13900005555"))
    assert client.get(f"/policy/nps/{policy.application.public_id}/").status_code == 404
