"""The endorsement PDF (批单): what changed on the policy, before and after, PAdES-signed.

Rendered by a background task after the endorsement is applied (like the e-policy), stored once
as an `esign.SignedDocument` and linked from the endorsement. Personal data is masked as on the
e-policy: ID numbers, phones and e-mail addresses show only their ends.
"""

from __future__ import annotations

import base64
import json

from django.db import transaction
from django.utils import timezone

from huibao.core import audit
from huibao.core.money import format_cny
from huibao.esign.models import SignedDocument, SignedDocumentKind
from huibao.esign.pdf import Section, render_pdf, sign_pdf
from huibao.policy import endorsement_rules as er
from huibao.policy.documents import verification_url
from huibao.policy.models import Endorsement

TITLE = "批单"
SIGN_REASON = "保单批改批单签发"


def sections(endorsement: Endorsement) -> list[Section]:
    policy = endorsement.policy
    effective = timezone.localtime(endorsement.effective_at) if endorsement.effective_at else None
    out = [
        Section(
            heading="批改信息",
            table=(
                ("批单号", endorsement.number),
                ("保险单号", policy.number),
                ("产品名称", policy.product_version.product.name),
                ("批改项目", er.KIND_LABELS[endorsement.kind]),
                ("申请时间", timezone.localtime(endorsement.requested_at).strftime("%Y年%m月%d日 %H:%M")),
                ("批改生效时间", effective.strftime("%Y年%m月%d日 %H:%M") if effective else "—"),
                ("保单数据版本", f"第{endorsement.version}版" if endorsement.version else "—"),
            ),
        ),
        Section(heading="批改前", table=er.display_rows(endorsement.kind, json.loads(endorsement.previous))),
        Section(heading="批改后", table=er.display_rows(endorsement.kind, json.loads(endorsement.changes))),
        Section(
            heading="保险费",
            table=(
                ("批改前年缴保险费", format_cny(endorsement.old_premium)),
                ("批改后年缴保险费", format_cny(endorsement.new_premium)),
                ("保险费差额", er.delta_text(endorsement.premium_delta)),
            ),
            paragraphs=(
                "保险费差额 =（批改后年缴保险费 − 批改前年缴保险费）× 剩余天数 ÷ 保险期间天数，"
                "按分四舍五入。",
            ),
        ),
        *(
            [Section(heading="投保人签名", image_png=base64.b64decode(endorsement.signature_png))]
            if endorsement.signature_png
            else []
        ),
        Section(
            heading="特别约定",
            paragraphs=(
                "经投保人申请，保险人同意对上述保险单作如上批改。本批单是保险合同的组成部分，"
                "除本批单所载变更外，保险合同其他内容不变。",
            ),
            qr_url=verification_url(policy),
        ),
    ]
    return out


def endorsement_pdf(endorsement: Endorsement) -> bytes:
    return sign_pdf(render_pdf(TITLE, sections(endorsement)), reason=SIGN_REASON)


def render_endorsement(endorsement_id: int) -> SignedDocument | None:
    """Renders, signs and stores the 批单 of an applied endorsement; idempotent (the one stored
    is kept). None for one not applied."""
    current = Endorsement.objects.select_related("policy__product_version__product").get(pk=endorsement_id)
    if current.effective_at is None:
        return None
    pdf = endorsement_pdf(current) if current.document_id is None else None
    with transaction.atomic():
        locked = Endorsement.objects.select_for_update().get(pk=endorsement_id)
        if locked.document_id is not None:
            return SignedDocument.objects.get(pk=locked.document_id)
        document = SignedDocument(
            kind=SignedDocumentKind.ENDORSEMENT,
            reference=locked.number,
            filename=f"endorsement-{locked.number}.pdf",
        )
        document.pdf = pdf if pdf is not None else endorsement_pdf(current)
        document.save()
        locked.document = document
        locked.save(update_fields=["document", "updated_at"])
        audit.record(
            "policy.endorsement_rendered",
            "endorsement",
            locked.number,
            actor="system",
            after={"document": document.public_id, "sha256": document.sha256},
        )
    return document
