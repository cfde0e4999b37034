"""Back office for quotes: read-only, with the calculation shown step by step."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

from huibao.core.admin import ReadOnlyModelAdmin
from huibao.rating.models import Quote


def inputs_table(inputs: Any) -> SafeString:
    """The quote's normalised inputs as an HTML table (name → value)."""
    rows = sorted(inputs.items()) if isinstance(inputs, dict) else []
    body = format_html_join("", "<tr><th>{}</th><td>{}</td></tr>", ((k, v) for k, v in rows))
    return format_html('<table class="huibao-table"><tbody>{}</tbody></table>', body)


def steps_table(steps: Any) -> SafeString:
    """Each step: name, label, formula, value and the table lookups it made."""
    rows = []
    for step in steps if isinstance(steps, list) else []:
        if not isinstance(step, dict):
            continue
        lookups = "；".join(
            f"{lk.get('table')}[{lk.get('key')}] = {lk.get('value')}"
            for lk in step.get("lookups") or []
            if isinstance(lk, dict)
        )
        rows.append(
            (
                step.get("name", ""),
                step.get("label", ""),
                step.get("expr", ""),
                step.get("value", ""),
                lookups,
            )
        )
    body = format_html_join(
        "", "<tr><td>{}</td><td>{}</td><td><code>{}</code></td><td>{}</td><td>{}</td></tr>", rows
    )
    return format_html(
        '<table class="huibao-table"><thead><tr><th>步骤</th><th>名称</th><th>公式</th><th>结果</th>'
        "<th>查表</th></tr></thead><tbody>{}</tbody></table>",
        body,
    )


@admin.register(Quote)
class QuoteAdmin(ReadOnlyModelAdmin):
    list_display = ("number", "id", "created_at", "product_version", "plan", "premium", "channel", "user")
    list_filter = ("channel", "engine_version")
    search_fields = ("number", "id", "product_version__product__code", "product_version__product__name")
    list_select_related = ("product_version__product", "plan", "user")
    date_hierarchy = "created_at"
    fields = (
        "number",
        "id",
        "created_at",
        "product_version",
        "plan",
        "premium",
        "engine_version",
        "channel",
        "user",
        "inputs_display",
        "steps_display",
    )
    readonly_fields = fields
    actions = None

    @admin.display(description="输入")
    def inputs_display(self, obj: Quote) -> SafeString:
        return inputs_table(obj.inputs)

    @admin.display(description="计算步骤")
    def steps_display(self, obj: Quote) -> SafeString:
        return steps_table(obj.steps)
