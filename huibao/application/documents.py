"""The electronic application form (电子投保单) as a PDF with the handwritten signatures, PAdES-signed
by the platform. ID numbers, phones and e-mail addresses are shown masked, as on the e-policy."""

from __future__ import annotations

import base64
import datetime
import json
import zoneinfo

from django.db import transaction
from django.utils import timezone

from huibao.application.models import Application, ApplicationItem
from huibao.application.rules import answers_in_form_order
from huibao.application.selectors import health_questions, items_of
from huibao.application.states import BeneficiaryMode, Relation, SignatureMethod
from huibao.core.masking import mask_email, mask_id_number, mask_phone
from huibao.esign.models import SignedDocument, SignedDocumentKind
from huibao.esign.pdf import Section, render_pdf, sign_pdf

BEIJING = zoneinfo.ZoneInfo("Asia/Shanghai")


def beijing_time(value: datetime.datetime | None) -> str:
    """A moment as the customer saw it on screen: Beijing time (the site's TIME_ZONE), labelled;
    stored times are UTC and printing them as such put times 8 hours off beside the pages'."""
    if value is None:
        return "—"
    return f"{timezone.localtime(value, BEIJING):%Y-%m-%d %H:%M:%S}（北京时间）"


def application_form_sections(app: Application) -> list[Section]:
    items = items_of(app)
    sections = [
        Section(
            heading="投保单信息",
            table=(
                ("投保单号", app.number),
                ("渠道", app.get_channel_display()),
                ("确认时间", beijing_time(app.confirmed_at)),
                ("数据摘要 SHA-256", app.confirmed_digest),
                ("保费合计", f"¥{app.total_premium}"),
            ),
        ),
        Section(heading="投保产品", table=tuple(_item_row(i) for i in items)),
        Section(
            heading="投保人",
            table=(
                ("姓名", app.applicant_name),
                ("证件号码", mask_id_number(app.applicant_id_number)),
                ("手机号", mask_phone(app.applicant_phone)),
                *((("邮箱", mask_email(app.applicant_email)),) if app.applicant_email else ()),
                ("职业", app.applicant_occupation or "—"),
            ),
        ),
    ]
    questions = health_questions(app)
    for person in app.insured_persons.order_by("position"):
        rows = [
            ("与投保人关系", str(Relation(person.relation).label)),
            ("姓名", person.name),
            ("证件号码", mask_id_number(person.id_number)),
            ("出生日期", person.birth_date.isoformat()),
        ]
        answers = json.loads(person.health_answers or "{}")
        # In the order the form asked them, as the review page lists them.
        rows += [
            (f"告知：{text}", "是" if value else "否")
            for _code, text, value in answers_in_form_order(questions, answers)
        ]
        if app.beneficiary_mode == BeneficiaryMode.NAMED:
            rows += [
                (
                    f"身故受益人（第{b.order}顺位）",
                    f"{b.name} {mask_id_number(b.id_number)} {b.share_percent}%",
                )
                for b in person.beneficiaries.all()
            ]
        else:
            rows.append(("身故受益人", "法定"))
        sections.append(Section(heading=f"被保险人 {person.position}", table=tuple(rows)))
    if app.subject:
        sections.append(Section(heading="保险标的", table=tuple((k, str(v)) for k, v in app.subject.items())))
    readings = app.readings.select_related("document").order_by("opened_at")
    sections.append(
        Section(
            heading="已阅读文件",
            table=tuple(
                (
                    f"《{r.document.title}》",
                    f"阅读{r.seconds_open}秒，完成于{beijing_time(r.completed_at)}",
                )
                for r in readings
                if r.completed_at
            ),
        )
    )
    for signature in app.signatures.order_by("id"):
        who = "投保人" if signature.role == "applicant" else "被保险人"
        paragraphs: tuple[str, ...] = (
            f"{who}：{signature.signer_name}，签署时间 {beijing_time(signature.signed_at)}",
            "本人已阅读保险条款、投保须知及责任免除等内容，确认以上信息真实、准确、完整，同意投保。",
        )
        image = (
            base64.b64decode(signature.image_png_b64)
            if signature.method == SignatureMethod.HANDWRITTEN and signature.image_png_b64
            else None
        )
        if image is None:
            paragraphs += ("（以勾选确认方式签署）",)
        sections.append(Section(heading=f"{who}签名", paragraphs=paragraphs, image_png=image))
    return sections


def _item_row(item: ApplicationItem) -> tuple[str, str]:
    product = item.product_version.product
    parts = [
        item.plan.name,
        f"版本 v{item.product_version.number}",
        f"被保险人 {item.insured.name if item.insured else ''}",
        f"保费 ¥{item.premium}",
    ]
    if item.loading_percent:
        parts.append(f"加费 {item.loading_percent}%")
    if item.exclusions:
        parts.append("除外：" + "；".join(item.exclusions))
    return f"{item.position}. {product.name}（{product.insurer.short_name}）", " · ".join(parts)


def render_application_form(app: Application) -> SignedDocument:
    """Renders, signs and stores the form; idempotent (returns the existing one).

    The PDF is made before the row lock is taken (rendering and signing take tens of
    milliseconds; on SQLite a write transaction would block every other writer that long), then
    stored under the lock unless another worker stored one first or the data changed meanwhile."""
    current = Application.objects.get(pk=app.pk)
    if current.application_form_id is not None:
        return SignedDocument.objects.get(pk=current.application_form_id)
    pdf = _signed_form(current)
    with transaction.atomic():
        locked = Application.objects.select_for_update().get(pk=app.pk)
        if locked.application_form_id is not None:
            return SignedDocument.objects.get(pk=locked.application_form_id)
        if locked.data_revision != current.data_revision:
            pdf = _signed_form(locked)  # the data changed while rendering: the form shows what is stored
        document = SignedDocument(
            kind=SignedDocumentKind.APPLICATION_FORM,
            reference=locked.number,
            filename=f"application-{locked.number}.pdf",
        )
        document.pdf = pdf
        document.save()
        locked.application_form = document
        locked.save(update_fields=["application_form", "updated_at"])
    return document


def _signed_form(app: Application) -> bytes:
    return sign_pdf(render_pdf("电子投保单", application_form_sections(app)), reason="电子投保单")
