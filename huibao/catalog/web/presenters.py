"""Presentation helpers for catalog pages: no business rules, only how things are shown."""

from __future__ import annotations

from typing import Any

from django.utils.html import escape, linebreaks
from django.utils.safestring import SafeString, mark_safe

KEY_CLAUSE_KIND_LABELS = {
    "exclusion": "责任免除",
    "waiting_period": "等待期",
    "cooling_off": "犹豫期",
    "surrender_loss": "退保损失",
    "other": "重要条款",
}


def highlight_key_clauses(body: str, key_clauses: list[dict[str, Any]]) -> SafeString:
    """The document body as HTML paragraphs, each key clause's text wrapped in <mark>.

    The body is escaped first and the clause texts are escaped the same way before they are
    searched for, so nothing the document holds can inject markup.
    """
    html: str = escape(body)
    for index, clause in enumerate(key_clauses):
        text = escape(str(clause.get("text") or "")).strip()
        if text and text in html:
            html = html.replace(text, f'<mark class="key-clause" id="clause-{index}">{text}</mark>', 1)
    return mark_safe(linebreaks(html, autoescape=False))  # noqa: S308 - escaped above


def clause_kind_label(kind: str) -> str:
    return KEY_CLAUSE_KIND_LABELS.get(kind, KEY_CLAUSE_KIND_LABELS["other"])
