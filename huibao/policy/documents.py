"""The e-policy (电子保单): a Chinese PDF of the policy schedule, PAdES-signed by the platform.

Everything printed comes from the policy's frozen schedule. ID numbers and phones are masked, as
on the application form; the QR code and the printed link lead to the public verification page
(`verification_url`), where anyone holding the document can check it is genuine.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from cryptography.hazmat.primitives.serialization import Encoding
from django.conf import settings
from django.db import transaction
from django.urls import reverse

from huibao.core import audit
from huibao.core.masking import mask_id_number
from huibao.core.money import format_cny
from huibao.esign.ca import fingerprint, platform_root_certificate
from huibao.esign.models import SignedDocument, SignedDocumentKind
from huibao.esign.pdf import Section, render_pdf, sign_pdf
from huibao.policy import schedule as schedule_mod
from huibao.policy.models import Policy

TITLE = "电子保险单"
SIGN_REASON = "电子保单签发"
CLAUSE_KINDS = {
    "exclusion": "责任免除",
    "waiting_period": "等待期",
    "cooling_off": "犹豫期",
    "surrender_loss": "退保损失",
}


def public_base_url() -> str:
    return str(getattr(settings, "HUIBAO_PUBLIC_URL", "http://127.0.0.1:8000") or "http://127.0.0.1:8000")


def verification_url(policy: Policy) -> str:
    """The absolute URL of the policy's public verification page."""
    return public_base_url().rstrip("/") + reverse("policy:verify", args=[policy.verification_code])


def _money(value: str | None) -> str:
    return format_cny(Decimal(value)) if value not in (None, "") else "—"


# At issuance the first instalment is the checkout's payment; billing collects the others.
_INSTALMENT_STATE = {True: "已缴（投保时支付）", False: "待缴（协议代扣）"}


def _date(value: str | None) -> str:
    if not value:
        return "—"
    return f"{datetime.date.fromisoformat(value[:10]):%Y年%m月%d日}"


def _sex(code: str | None) -> str:
    return {"M": "男", "F": "女"}.get(code or "", "—")


def _share(text: str) -> str:
    """A beneficiary's share as the customer typed it and the pages show it: 50, 33.33, 12.50."""
    value = Decimal(text)
    return str(int(value)) if value == value.to_integral_value() else f"{value:.2f}"


def _coverage_text(c: dict[str, Any]) -> str:
    parts = [f"保额 {_money(c['sum_insured'])}"]
    if Decimal(c.get("deductible") or 0) > 0:
        parts.append(f"免赔额 {_money(c['deductible'])}")
    ratio = Decimal(c.get("reimbursement_ratio") or 1)
    if ratio < 1:
        parts.append(f"赔付比例 {ratio * 100:.0f}%")
    if c.get("waiting_period_days"):
        parts.append(f"等待期 {c['waiting_period_days']}天")
    if c.get("optional"):
        parts.append("可选责任")
    text = "；".join(parts)
    return f"{text}\n{c['description']}" if c.get("description") else text


def epolicy_sections(policy: Policy, data: dict[str, Any] | None = None) -> list[Section]:
    """The sections of the e-policy, from the policy's schedule."""
    s = data if data is not None else schedule_mod.loads(policy.schedule)
    insurer, product, holder, insured = s["insurer"], s["product"], s["holder"], s["insured"]
    premium = s["premium"]
    mode = premium.get("payment_mode", "single")
    premium_label = (
        "保险费" if mode == "single" else f"首期保险费（{premium.get('payment_mode_label', mode)}）"
    )
    sections = [
        Section(
            heading="保单信息",
            table=(
                ("保险单号", s["number"]),
                ("保险公司", insurer["name"]),
                ("产品名称", f"{product['name']}（{product['line_label']}）"),
                ("保障方案", s["plan"]["name"]),
                ("保险期间", s["period"]),
                ("签发日期", _date(s["issued_at"])),
                (
                    "犹豫期",
                    f"{s['cooling_off_days']}天，至{_date(s['cooling_off_until'])}"
                    if s.get("cooling_off_until")
                    else "无",
                ),
                ("基本保险金额", _money(s.get("sum_insured"))),
                (premium_label, _money(premium.get("first_instalment") or premium["premium"])),
                ("续保自保单", s["renewed_from"])
                if s.get("renewed_from")
                else ("投保单号", s["application_number"]),
            ),
        ),
        Section(
            heading="投保人",
            table=(
                ("姓名", holder["name"]),
                ("证件号码", mask_id_number(holder.get("id_number"))),
                ("性别", _sex(holder.get("sex"))),
            ),
        ),
        Section(
            heading="被保险人",
            table=(
                ("姓名", insured["name"]),
                ("证件号码", mask_id_number(insured.get("id_number"))),
                ("性别", _sex(insured.get("sex"))),
                ("出生日期", _date(insured.get("birth_date"))),
                ("与投保人关系", insured.get("relation_label", "")),
                ("职业", insured.get("occupation") or "—"),
            ),
        ),
    ]
    if s["beneficiaries"]:
        rows = tuple(
            (
                f"第{b['order']}顺位 {b['relation_label']}",
                f"{b['name']}  {mask_id_number(b['id_number'])}  受益比例 {_share(b['share_percent'])}%",
            )
            for b in s["beneficiaries"]
        )
        sections.append(Section(heading="身故受益人", table=rows))
    else:
        sections.append(Section(heading="身故受益人", table=(("受益人", "法定继承人（法定）"),)))
    if s["subject"]:
        sections.append(
            Section(heading="保险标的", table=tuple((f["label"], f["value"]) for f in s["subject"]))
        )
    sections.append(
        Section(heading="保险责任", table=tuple((c["name"], _coverage_text(c)) for c in s["coverages"]))
    )
    premium_rows: list[tuple[str, str]] = [("标准保费", _money(premium["base"]))]
    if Decimal(premium.get("loading_percent") or 0) > 0:
        premium_rows.append(("加费比例", f"{premium['loading_percent']}%"))
    if premium.get("instalments"):
        premium_rows.append(("年度保险费", _money(premium["premium"])))
    premium_rows += [
        (premium_label, _money(premium.get("first_instalment") or premium["premium"])),
        ("交费方式", premium.get("payment_mode_label", mode)),
        ("交费期间", schedule_mod.premium_term_text(s)),
    ]
    sections.append(Section(heading="保险费", table=tuple(premium_rows)))
    steps = schedule_mod.year_premiums(s)
    if steps:
        # a premium that steps up by policy year: each year's annual premium, as priced at issuance
        sections.append(
            Section(
                heading="逐年保险费",
                table=tuple((f"第{n}保单年度", _money(str(p))) for n, p in enumerate(steps, start=1)),
            )
        )
    if premium.get("instalments"):
        sections.append(
            Section(
                heading="缴费计划",
                table=tuple(
                    (
                        f"第{i['number']}期 {_date(i['due_on'])}",
                        f"{_money(i['amount'])}  {_INSTALMENT_STATE[i['number'] == 1]}",
                    )
                    for i in premium["instalments"]
                ),
            )
        )
    if s["exclusions"] or Decimal(premium.get("loading_percent") or 0) > 0:
        paragraphs = [f"{i}. 除外责任：{text}" for i, text in enumerate(s["exclusions"], start=1)]
        if Decimal(premium.get("loading_percent") or 0) > 0:
            paragraphs.append(
                f"{len(paragraphs) + 1}. 经核保，本保单按标准保费加收{premium['loading_percent']}%承保。"
            )
        sections.append(Section(heading="特别约定", paragraphs=tuple(paragraphs)))
    if s["key_clauses"]:
        sections.append(
            Section(
                heading="重要条款提示",
                paragraphs=tuple(
                    f"【{CLAUSE_KINDS.get(c['kind'], c['title'] or '提示')}】{c['title']}：{c['text']}"
                    for c in s["key_clauses"]
                ),
            )
        )
    if s.get("documents"):
        sections.append(
            Section(
                heading="合同组成",
                paragraphs=(
                    "本合同由保险单、"
                    + "、".join(f"《{d['title']}》" for d in s["documents"])
                    + "、投保单及其他书面协议构成。",
                ),
            )
        )
    url = verification_url(policy)
    sections.append(
        Section(
            heading="客户服务与保单验真",
            paragraphs=(
                f"{insurer['short_name'] or insurer['name']}客服电话：{s.get('hotline') or '—'}",
                f"验真码：{policy.verification_code}",
                "扫描下方二维码或访问以下网址，可核验本保单的真实性；本电子保单经汇保平台电子签章，"
                "与纸质保单具有同等法律效力。",
            ),
            qr_url=url,
        )
    )
    return sections


def epolicy_pdf(policy: Policy) -> bytes:
    """Renders and signs the e-policy (nothing stored)."""
    return sign_pdf(render_pdf(TITLE, epolicy_sections(policy)), reason=SIGN_REASON)


def render_epolicy(policy: Policy) -> SignedDocument:
    """Renders, signs and stores the e-policy; idempotent (returns the one already stored).

    The PDF is made before the row lock is taken (a policy does not change once issued), so a
    write transaction is never held open while rendering; if another worker stored one first,
    theirs is kept and this one is dropped."""
    current = Policy.objects.get(pk=policy.pk)
    pdf = epolicy_pdf(current) if current.epolicy_id is None else None
    with transaction.atomic():
        locked = Policy.objects.select_for_update().get(pk=policy.pk)
        if locked.epolicy_id is not None:
            document = SignedDocument.objects.get(pk=locked.epolicy_id)
        else:
            document = SignedDocument(
                kind=SignedDocumentKind.EPOLICY,
                reference=locked.number,
                filename=f"epolicy-{locked.number}.pdf",
            )
            document.pdf = pdf if pdf is not None else epolicy_pdf(locked)
            document.save()
            locked.epolicy = document
            locked.epolicy_sha256 = document.sha256
            locked.save(update_fields=["epolicy", "epolicy_sha256"])
            audit.record(
                "policy.epolicy_rendered",
                "policy",
                locked.number,
                actor="system",
                after={"document": document.public_id, "sha256": document.sha256, "bytes": len(document.pdf)},
            )
    policy.epolicy = document
    policy.epolicy_sha256 = document.sha256
    return document


@dataclass(frozen=True)
class PublishedRoot:
    """The platform's root certificate as a relying party downloads it (DER, the form Adobe Reader,
    Windows, macOS and phones all import) with the fingerprint to compare before trusting it."""

    der: bytes
    fingerprint: str
    subject: str
    not_after: datetime.date


def published_root() -> PublishedRoot:
    cert = platform_root_certificate()
    return PublishedRoot(
        der=cert.public_bytes(Encoding.DER),
        fingerprint=fingerprint(cert),
        subject=cert.subject.rfc4514_string(),
        not_after=cert.not_valid_after_utc.date(),
    )
