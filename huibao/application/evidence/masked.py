"""The data the customer confirmed, masked for the auditor's eyes."""

from __future__ import annotations

import json
from dataclasses import dataclass

from huibao.application.evidence.describe import _label, _mask_text, format_money
from huibao.application.models import Application
from huibao.application.selectors import health_questions, items_of
from huibao.application.states import BeneficiaryMode, Relation, UnderwritingOutcome
from huibao.core.masking import mask_email, mask_id_number, mask_name, mask_phone


@dataclass(frozen=True, slots=True)
class DataSection:
    heading: str
    rows: tuple[tuple[str, str], ...]


def masked_data(application: Application) -> list[DataSection]:
    """The application data as the customer confirmed it, with personal data masked. Health
    answers are not shown (only that each question was answered): they are sensitive and their
    values are covered by the data digest and the signed application form."""
    app = application
    sections: list[DataSection] = [
        DataSection(
            "投保人",
            (
                ("姓名", mask_name(app.applicant_name)),
                ("证件号码", mask_id_number(app.applicant_id_number)),
                ("手机号", mask_phone(app.applicant_phone)),
                ("邮箱", mask_email(app.applicant_email) if app.applicant_email else "—"),
                ("地址", _mask_text(app.applicant_address) if app.applicant_address else "—"),
                ("职业", app.applicant_occupation or "—"),
            ),
        )
    ]
    questions = health_questions(app)
    for person in app.insured_persons.order_by("position").prefetch_related("beneficiaries"):
        answered = set(json.loads(person.health_answers or "{}"))
        rows: list[tuple[str, str]] = [
            ("与投保人关系", _label(Relation, person.relation)),
            ("姓名", mask_name(person.name)),
            ("证件号码", mask_id_number(person.id_number)),
            ("职业类别", str(person.occupation_class or "—")),
        ]
        rows += [
            (f"健康告知：{q['text']}", "已作答" if str(q["code"]) in answered else "未作答")
            for q in questions
        ]
        if app.beneficiary_mode == BeneficiaryMode.NAMED:
            rows += [
                (
                    f"身故受益人（第{b.order}顺位）",
                    f"{mask_name(b.name)} {mask_id_number(b.id_number)} {_label(Relation, b.relation)} "
                    f"{b.share_percent}%",
                )
                for b in person.beneficiaries.all()
            ]
        else:
            rows.append(("身故受益人", "法定"))
        sections.append(DataSection(f"被保险人{person.position}", tuple(rows)))
    if app.subject:
        sections.append(
            DataSection("保险标的", tuple((str(k), _mask_text(str(v))) for k, v in app.subject.items()))
        )
    sections.append(
        DataSection(
            "投保产品",
            tuple(
                (
                    f"{i.position}. {i.product_version.product.name}（第{i.product_version.number}版）",
                    f"{i.plan.name}，保费{format_money(i.premium)}，"
                    f"{_label(UnderwritingOutcome, i.underwriting_outcome)}",
                )
                for i in items_of(app)
            ),
        )
    )
    return sections
