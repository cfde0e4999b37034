"""The underwriter queue in the back office (人工核保), registered by the application app (it
shows the application's data; underwriting does not import the application), at the
underwriting case's usual admin address.

The list shows open cases first (oldest first), with the application number, product, the insured
(masked), age and why the rules referred it. A case's page shows the health declaration (question
and answer) and the referral reasons, and — for users with `underwriting.change_underwritingcase`
— a form to decide it. The decision goes through `referral.decide_case`, which checks it, writes
the audit entry with the underwriter as actor and resumes the application. Nothing is edited
through a model form: no add, no delete, no raw save.
"""

from __future__ import annotations

import datetime
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import Case, IntegerField, Value, When
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from huibao.application.models import ApplicationItem
from huibao.application.services import referral
from huibao.application.services import underwriting as application_underwriting
from huibao.application.states import Relation
from huibao.core.errors import DomainError
from huibao.core.masking import mask_id_number, mask_name
from huibao.underwriting import services
from huibao.underwriting.models import UnderwritingCase
from huibao.underwriting.states import CaseDecision, CaseStatus

# Form fields by the service's error field names.
SERVICE_FIELDS = {
    "decision": "decision",
    "decision_reasons": "reasons",
    "loading_percent": "loading_percent",
    "exclusions": "exclusions",
}


class DecideForm(forms.Form):
    decision = forms.ChoiceField(label=_("核保决定"), choices=CaseDecision.choices, widget=forms.RadioSelect)
    loading_percent = forms.DecimalField(
        label=_("加费比例（%）"),
        required=False,
        min_value=0,
        max_value=300,
        decimal_places=2,
        help_text=_("仅加费/除外承保时填写，0–300"),
    )
    exclusions = forms.CharField(
        label=_("除外责任"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("每行一条；仅加费/除外承保时填写"),
    )
    reasons = forms.CharField(
        label=_("决定理由"),
        widget=forms.Textarea(attrs={"rows": 4}),
        error_messages={"required": _("请填写核保决定的理由")},
    )

    def exclusion_lines(self) -> list[str]:
        text = self.cleaned_data.get("exclusions") or ""
        return [line.strip() for line in text.splitlines() if line.strip()]


def _answer_label(answer: bool | None) -> str:
    if answer is None:
        return "未回答"
    return "是" if answer else "否"


def _age(birth: datetime.date, on: datetime.date) -> int:
    return services.age_on(birth, on)


@admin.register(UnderwritingCase)
class UnderwritingCaseAdmin(admin.ModelAdmin):
    list_display = (
        "id",
        "status",
        "application_number",
        "product_name",
        "insured_masked",
        "insured_age",
        "reason_summary",
        "created_at",
        "decided_by",
    )
    list_display_links = ("id", "application_number")
    list_filter = ("status", "decision")
    search_fields = ("item__application__number",)
    list_select_related = (
        "item__application",
        "item__insured",
        "item__product_version__product",
        "decided_by",
    )
    actions = None

    def get_ordering(self, request: HttpRequest) -> list[Any]:
        open_first = Case(
            When(status=CaseStatus.OPEN, then=Value(0)), default=Value(1), output_field=IntegerField()
        )
        return [open_first.asc(), "created_at", "id"]

    # --- columns ---------------------------------------------------------------------------------

    @admin.display(description=_("投保单号"), ordering="item__application__number")
    def application_number(self, obj: UnderwritingCase) -> str:
        return obj.item.application.number

    @admin.display(description=_("产品"))
    def product_name(self, obj: UnderwritingCase) -> str:
        return obj.item.product_version.product.name

    @admin.display(description=_("被保险人"))
    def insured_masked(self, obj: UnderwritingCase) -> str:
        insured = obj.item.insured
        if insured is None:
            return "—"
        return f"{mask_name(insured.name)} {mask_id_number(insured.id_number)}"

    @admin.display(description=_("年龄"))
    def insured_age(self, obj: UnderwritingCase) -> str:
        insured = obj.item.insured
        return "—" if insured is None else f"{_age(insured.birth_date, timezone.localdate())}岁"

    @admin.display(description=_("转人工原因"))
    def reason_summary(self, obj: UnderwritingCase) -> str:
        messages_ = [str(r.get("message", "")) for r in obj.referral_reasons if isinstance(r, dict)]
        text = "；".join(m for m in messages_ if m)
        return text if len(text) <= 60 else text[:59] + "…"

    # --- permissions -----------------------------------------------------------------------------

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def may_decide(self, request: HttpRequest, case: UnderwritingCase | None = None) -> bool:
        allowed = bool(request.user.has_perm(services.DECIDE_PERMISSION))
        return allowed and (case is None or case.status == CaseStatus.OPEN)

    # --- the case page with the decision form ------------------------------------------------------

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        case = get_object_or_404(
            UnderwritingCase.objects.select_related(
                "item__application",
                "item__insured",
                "item__product_version__product",
                "item__plan",
                "decided_by",
            ),
            pk=object_id,
        )
        if not self.has_view_or_change_permission(request, case):
            from django.core.exceptions import PermissionDenied

            raise PermissionDenied
        can_decide = self.may_decide(request, case)
        form: DecideForm | None = None
        if can_decide:
            if request.method == "POST":
                form = DecideForm(request.POST)
                if form.is_valid() and self._decide(request, case, form):
                    self.message_user(
                        request,
                        f"案件 {case.pk}（投保单 {case.item.application.number}）已决定："
                        f"{CaseDecision(form.cleaned_data['decision']).label}",
                        messages.SUCCESS,
                    )
                    return HttpResponseRedirect(reverse("admin:underwriting_underwritingcase_changelist"))
            else:
                form = DecideForm(
                    initial={
                        "loading_percent": case.suggested_loading_percent or None,
                        "exclusions": "\n".join(case.suggested_exclusions),
                    }
                )
        elif request.method == "POST":
            from django.core.exceptions import PermissionDenied

            raise PermissionDenied
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": f"人工核保案件 {case.pk}",
            "subtitle": case.item.application.number,
            "case": case,
            "details": self._details(case),
            "form": form,
            "can_decide": can_decide,
            "has_view_permission": True,
            **(extra_context or {}),
        }
        return TemplateResponse(request, "underwriting/admin/case.html", context)

    def _decide(self, request: HttpRequest, case: UnderwritingCase, form: DecideForm) -> bool:
        try:
            referral.decide_case(
                case,
                decision=form.cleaned_data["decision"],
                underwriter=request.user,
                reasons=form.cleaned_data["reasons"],
                loading_percent=form.cleaned_data.get("loading_percent") or 0,
                exclusions=form.exclusion_lines(),
                request=request,
            )
        except DomainError as exc:
            if not exc.errors:
                form.add_error(None, exc.message)
            for error in exc.errors:
                form.add_error(SERVICE_FIELDS.get(error.field), error.message)
            return False
        return True

    def _details(self, case: UnderwritingCase) -> dict[str, Any]:
        item: ApplicationItem = case.item
        insured = item.insured
        today = timezone.localdate()
        version = item.product_version
        answers = application_underwriting.health_answers_of(insured) if insured is not None else {}
        health = [
            {
                "text": q.get("text", q["code"]),
                "answer": _answer_label(answers.get(str(q["code"]))),
                "adverse": answers.get(str(q["code"])) == bool(q.get("knock_out_answer", True)),
            }
            for q in version.eligibility.get("health_questions") or []
        ]
        existing = (
            application_underwriting.existing_death_benefit(
                [insured.id_hash], exclude_application_id=item.application_id
            ).get(insured.id_hash)
            if insured is not None
            else None
        )
        siblings = ApplicationItem.objects.filter(application_id=item.application_id).select_related(
            "product_version__product"
        )
        return {
            "application": item.application,
            "product": version.product,
            "version": version,
            "plan": item.plan,
            "sum_insured": item.sum_insured,
            "base_premium": item.base_premium,
            "insured_name": mask_name(insured.name) if insured else "",
            "insured_id": mask_id_number(insured.id_number) if insured else "",
            "age": _age(insured.birth_date, today) if insured else None,
            "sex": {"M": "男", "F": "女"}.get(insured.sex, "") if insured else "",
            "relation": Relation(insured.relation).label if insured else "",
            "occupation": insured.occupation if insured else "",
            "occupation_class": insured.occupation_class if insured else None,
            "health": health,
            "reasons": case.referral_reasons,
            "existing_death_benefit": existing,
            "items": siblings,
        }
