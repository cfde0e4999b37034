"""Forms of the catalog pages: search filters, the rankings profile and the quote form.

The quote form is built from the product version itself: its plans, eligibility, term options,
payment modes and the extra inputs its pricing spec declares. It only shapes what the person typed
into the engine's inputs; every business rule (age limits, sum insured range…) is checked by the
rating engine, whose `FieldError`s are mapped back onto the fields (`attach_field_errors`).
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from django import forms
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from huibao.catalog.models import LineOfBusiness, PaymentMode, Plan, ProductVersion
from huibao.catalog.search import SORTS, SearchFilters
from huibao.core.errors import FieldError

SORT_LABELS = {
    "relevance": _("Best match"),
    "sales": _("Best-selling"),
    "rating": _("Best-rated"),
    "price_asc": _("Price: low to high"),
    "price_desc": _("Price: high to low"),
}
SEX_CHOICES = [("M", _("Male")), ("F", _("Female"))]
MIN_RATING_CHOICES = [("", _("Any rating")), ("4.5", "4.5+"), ("4", "4.0+"), ("3.5", "3.5+")]
OCCUPATION_LABELS = {
    1: _("Class 1 (office work)"),
    2: _("Class 2"),
    3: _("Class 3"),
    4: _("Class 4"),
    5: _("Class 5"),
    6: _("Class 6 (high risk)"),
}

# Provinces (省级行政区) by their 6-digit administrative code, for products sold by region.
PROVINCES = {
    "110000": "北京市", "120000": "天津市", "130000": "河北省", "140000": "山西省",
    "150000": "内蒙古自治区", "210000": "辽宁省", "220000": "吉林省", "230000": "黑龙江省",
    "310000": "上海市", "320000": "江苏省", "330000": "浙江省", "340000": "安徽省",
    "350000": "福建省", "360000": "江西省", "370000": "山东省", "410000": "河南省",
    "420000": "湖北省", "430000": "湖南省", "440000": "广东省", "450000": "广西壮族自治区",
    "460000": "海南省", "500000": "重庆市", "510000": "四川省", "520000": "贵州省",
    "530000": "云南省", "540000": "西藏自治区", "610000": "陕西省", "620000": "甘肃省",
    "630000": "青海省", "640000": "宁夏回族自治区", "650000": "新疆维吾尔自治区",
}  # fmt: skip


class SearchForm(forms.Form):
    """The query string of /products/. Invalid values are dropped, never fatal."""

    q = forms.CharField(required=False, max_length=64, label=_("Search"))
    line = forms.ChoiceField(
        required=False, label=_("Line"), choices=[("", _("All lines")), *LineOfBusiness.choices]
    )
    crowd = forms.SlugField(required=False, label=_("Crowd"))
    scenario = forms.SlugField(required=False, label=_("Scenario"))
    insurer = forms.SlugField(required=False, label=_("Insurer"))
    age = forms.IntegerField(required=False, min_value=0, max_value=120, label=_("Age of the insured"))
    max_premium = forms.DecimalField(
        required=False, min_value=Decimal(0), max_digits=12, decimal_places=2, label=_("Max premium (¥)")
    )
    min_rating = forms.ChoiceField(required=False, choices=MIN_RATING_CHOICES, label=_("Rating"))
    sort = forms.ChoiceField(
        required=False, label=_("Sort by"), choices=[(s, SORT_LABELS[s]) for s in SORTS], initial="relevance"
    )
    page = forms.IntegerField(required=False, min_value=1)

    def value(self, name: str) -> Any:
        """The cleaned value of a field, or None when it was missing or invalid."""
        if not hasattr(self, "cleaned_data"):
            self.is_valid()
        return self.cleaned_data.get(name) or None

    def search_args(self) -> tuple[str, SearchFilters, str, int]:
        """(query, filters, sort, page) for `search_products`."""
        self.is_valid()
        min_rating = self.value("min_rating")
        age = self.cleaned_data.get("age")
        filters = SearchFilters(
            line=self.value("line"),
            crowd=self.value("crowd"),
            scenario=self.value("scenario"),
            insurer=self.value("insurer"),
            age=age if isinstance(age, int) else None,
            max_premium=self.value("max_premium"),
            min_rating=Decimal(min_rating) if min_rating else None,
        )
        return self.value("q") or "", filters, self.value("sort") or "relevance", self.value("page") or 1


class ProfileForm(forms.Form):
    """Who the "cheapest for you" ranking prices for."""

    age = forms.IntegerField(min_value=0, max_value=100, initial=30, label=_("Age"))
    sex = forms.ChoiceField(choices=SEX_CHOICES, initial="M", label=_("Sex"))
    line = forms.ChoiceField(choices=LineOfBusiness.choices, initial=LineOfBusiness.MEDICAL, label=_("Line"))


def _number_widget(spec: dict[str, Any]) -> forms.NumberInput:
    attrs: dict[str, Any] = {"inputmode": "numeric"}
    if spec.get("min") is not None:
        attrs["min"] = spec["min"]
    if spec.get("max") is not None:
        attrs["max"] = spec["max"]
    return forms.NumberInput(attrs=attrs)


class QuoteForm(forms.Form):
    """The inputs of a quote for one product version; fields depend on the version."""

    def __init__(
        self, version: ProductVersion, *args: Any, referenced: frozenset[str] = frozenset(), **kwargs: Any
    ) -> None:
        """`referenced`: the input names the version's pricing formulas use (from the rating engine);
        an input they use is asked for even when eligibility does not restrict it."""
        super().__init__(*args, **kwargs)
        self.version = version
        eligibility: dict[str, Any] = version.eligibility or {}
        plans = list(version.plans.all())
        self.plans = {p.code: p for p in plans}
        recommended = next((p for p in plans if p.is_recommended), plans[0] if plans else None)
        min_age = int(eligibility.get("min_age_days") or 0) // 365
        max_age = eligibility.get("max_age")

        self.fields["plan"] = forms.ChoiceField(
            label=_("Plan"),
            choices=[(p.code, p.name) for p in plans],
            initial=recommended.code if recommended else None,
        )
        # Only what the price or the eligibility needs is asked: no age when neither the formulas
        # nor an age limit use it, no sex when the formulas do not (交强险 prices the vehicle).
        if "age" in referenced or min_age > 0 or max_age is not None:
            age_attrs: dict[str, Any] = {"inputmode": "numeric", "min": min_age}
            if max_age is not None:
                age_attrs["max"] = max_age
            self.fields["age"] = forms.IntegerField(
                label=_("Age of the insured"),
                required=False,  # or the birth date; the engine says when neither is given
                initial=max(30, min_age) if max_age is None or int(max_age) >= 30 else min_age,
                widget=forms.NumberInput(attrs=age_attrs),
            )
            self.fields["birth_date"] = forms.DateField(
                label=_("Or date of birth"),
                required=False,
                widget=forms.DateInput(attrs={"type": "date"}),
            )
        if "sex" in referenced:
            self.fields["sex"] = forms.ChoiceField(
                label=_("Sex"), choices=SEX_CHOICES, initial="M", widget=forms.RadioSelect
            )
        if any(p.min_sum_insured != p.max_sum_insured for p in plans):
            self.fields["sum_insured"] = forms.DecimalField(
                label=_("Sum insured (¥)"),
                required=False,
                min_value=Decimal(0),
                decimal_places=2,
                initial=f"{recommended.max_sum_insured.normalize():f}" if recommended else None,
                widget=forms.NumberInput(attrs={"inputmode": "numeric"}),
            )
        terms = version.term_options or []
        if terms:
            self.fields["term"] = forms.ChoiceField(
                label=_("Term"), choices=[(t["code"], t.get("label") or t["code"]) for t in terms]
            )
        classes = eligibility.get("occupation_classes") or []
        if not classes and "occupation_class" in referenced:
            classes = list(OCCUPATION_LABELS)
        if classes:
            self.fields["occupation_class"] = forms.TypedChoiceField(
                label=_("Occupation class"),
                coerce=int,
                choices=[(c, OCCUPATION_LABELS.get(int(c), str(c))) for c in classes],
            )
        regions = [str(r) for r in eligibility.get("regions") or []]
        if regions or "region" in referenced:
            codes = regions or list(PROVINCES)
            self.fields["region"] = forms.ChoiceField(
                label=_("Region"), choices=[(c, PROVINCES.get(c, c)) for c in codes]
            )
        modes = version.payment_modes or []
        if modes:
            labels = dict(PaymentMode.choices)
            self.fields["payment_mode"] = forms.ChoiceField(
                label=_("Payment mode"), choices=[(m, labels.get(m, m)) for m in modes]
            )
        self.extra_inputs: list[str] = []
        for name, spec in ((version.pricing or {}).get("inputs") or {}).items():
            if name in self.fields:
                continue
            self.fields[name] = self._spec_field(spec)
            self.extra_inputs.append(name)

    @staticmethod
    def _spec_field(spec: dict[str, Any]) -> forms.Field:
        label = spec.get("label") or ""
        required = bool(spec.get("required", True)) and spec.get("default") is None
        initial = spec.get("default")
        choices = spec.get("choices")
        if choices:
            pairs = list(choices.items()) if isinstance(choices, dict) else [(c, c) for c in choices]
            return forms.ChoiceField(
                label=label, required=required, initial=initial, choices=[(str(k), str(v)) for k, v in pairs]
            )
        if spec.get("type") == "integer":
            return forms.IntegerField(
                label=label, required=required, initial=initial, widget=_number_widget(spec)
            )
        return forms.DecimalField(
            label=label, required=required, initial=initial, widget=_number_widget(spec)
        )

    def plan_code(self) -> str:
        return str(self.cleaned_data.get("plan") or "")

    def engine_inputs(self) -> dict[str, Any]:
        """The cleaned values as the rating engine takes them: decimals as strings, no blanks."""
        inputs: dict[str, Any] = {}
        for name, value in self.cleaned_data.items():
            if name == "plan" or value is None or value == "":
                continue
            inputs[name] = value.isoformat() if isinstance(value, date) else value
            if isinstance(value, Decimal):
                inputs[name] = str(value)
        if "birth_date" in inputs:  # a date of birth is more precise than an age in years
            inputs.pop("age", None)
        return inputs

    def attach_field_errors(self, errors: list[FieldError]) -> None:
        """Shows each engine error next to its field ('inputs.age' → age); others on the form."""
        for error in errors:
            name = error.field.removeprefix("inputs.")
            if name == "plan_code":
                name = "plan"
            self.add_error(name if name in self.fields else None, error.message)

    def selected_plan(self) -> Plan | None:
        code = self["plan"].value() if "plan" in self.fields else None
        return self.plans.get(str(code or "")) or next(iter(self.plans.values()), None)

    def sum_insured_hint(self) -> str:
        """The sum insured the selected plan accepts, e.g. "可选 ¥10,000 – ¥500,000，按 ¥10,000 递增"."""
        plan = self.selected_plan()
        if plan is None:
            return ""
        if plan.min_sum_insured == plan.max_sum_insured:
            return gettext("This plan has a fixed sum insured of ¥%(amount)s.") % {
                "amount": f"{plan.max_sum_insured:,.0f}"
            }
        text = gettext("From ¥%(low)s to ¥%(high)s") % {
            "low": f"{plan.min_sum_insured:,.0f}",
            "high": f"{plan.max_sum_insured:,.0f}",
        }
        if plan.sum_insured_step:
            text += gettext(", in steps of ¥%(step)s") % {"step": f"{plan.sum_insured_step:,.0f}"}
        return text
