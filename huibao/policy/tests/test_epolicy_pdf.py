"""The e-policy file as any viewer shows it: its font embedded (pdffonts), its text extractable
(pdftotext), and the verification QR code on the page of the words that explain it."""

from __future__ import annotations

from decimal import Decimal

import pytest

from huibao.policy import documents
from huibao.policy.tests import factories as f
from huibao.policy.tests.pdftext import fonts_of, pages_text

pytestmark = pytest.mark.django_db


@pytest.fixture
def policy():
    version = f.product_version(insurer_code="zhongan")
    person = f.Person(beneficiaries=[("王大宝", "child", Decimal(100))])
    app = f.application([(version, person, 500_000, "1000.00", {"term": "1y"})], exclusions=["甲状腺结节"])
    return f.issue(app)[0]


def test_every_font_of_the_epolicy_is_embedded(policy) -> None:
    pdf = documents.render_epolicy(policy).pdf
    fonts = fonts_of(pdf)
    assert fonts, fonts
    assert all(row["emb"] == "yes" and row["sub"] == "yes" and row["uni"] == "yes" for row in fonts), fonts


def test_the_qr_code_is_on_the_page_of_the_verification_text(policy) -> None:
    pages = pages_text(documents.render_epolicy(policy).pdf)
    url = documents.verification_url(policy)
    with_url = [p for p in pages if url in p.replace("\n", "")]
    assert len(with_url) == 1, pages
    assert "客户服务与保单验真" in with_url[0] and policy.verification_code in with_url[0]
    assert all(page.strip() for page in pages)  # no empty page
