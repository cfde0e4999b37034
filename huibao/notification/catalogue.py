"""The registry of message templates: code → texts per channel, in Chinese, Django template syntax.

A template is data, not a file: each app keeps its own in code and registers them in its
`AppConfig.ready()` — adding one is five lines:

    from huibao.notification.catalogue import MessageTemplate, register

    register(MessageTemplate(
        code="policy.renewal_reminder", category="service", required=("policy_number", "days"),
        title="续保提醒", body="您的保单{{ policy_number }}将在{{ days }}天后到期。",
        sms="【汇保】您的保单{{ policy_number }}将在{{ days }}天后到期，请及时续保。",
    ))

A channel without a text is not used by that template (here: no e-mail). Rendering is local and
happens inside `notify`, so a missing variable fails the business transaction that asked, not a
worker later. Texts are plain (no HTML): e-mail is sent as text/plain, pages escape on display.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from functools import cache, lru_cache

from django.template import Context, Engine, Template

from huibao.notification import rules
from huibao.notification.errors import TemplateContextMissing, UnknownTemplate

type ContextValue = str | int | Decimal | date | datetime


@dataclass(frozen=True, slots=True)
class MessageTemplate:
    code: str
    category: str
    title: str
    body: str
    email_subject: str = ""
    email_body: str = ""
    sms: str = ""
    # Context keys the texts need: `notify` refuses a call without them.
    required: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.category not in (rules.SERVICE, rules.MARKETING):
            raise ValueError(f"template {self.code}: unknown category {self.category!r}")
        if not (self.title and self.body):
            raise ValueError(f"template {self.code}: the in-site title and body are required")
        if bool(self.email_subject) != bool(self.email_body):
            raise ValueError(f"template {self.code}: e-mail needs both a subject and a body")

    @property
    def renders(self) -> frozenset[str]:
        channels = {rules.INBOX}
        if self.email_body:
            channels.add(rules.EMAIL)
        if self.sms:
            channels.add(rules.SMS)
        return frozenset(channels)


@dataclass(frozen=True, slots=True)
class Rendered:
    subject: str
    body: str


_registry: dict[str, MessageTemplate] = {}


def register(template: MessageTemplate) -> None:
    """Adds a template; registering the same code again with other texts is a programming error."""
    existing = _registry.get(template.code)
    if existing is not None and existing != template:
        raise ValueError(f"template {template.code} is already registered with other texts")
    _registry[template.code] = template


def get(code: str) -> MessageTemplate:
    try:
        return _registry[code]
    except KeyError:
        raise UnknownTemplate(f"模板不存在：{code}", code="template_unknown") from None


def all_templates() -> list[MessageTemplate]:
    return sorted(_registry.values(), key=lambda t: t.code)


@cache
def _engine() -> Engine:
    # Plain text: nothing is HTML-escaped here (pages escape what they show).
    return Engine(autoescape=False)


@lru_cache(maxsize=1024)
def _compiled(source: str) -> Template:
    # Templates are data registered once: each text is compiled once per process, not per message.
    return _engine().from_string(source)


def _render(source: str, context: Mapping[str, ContextValue]) -> str:
    if not source:
        return ""
    return _compiled(source).render(Context(dict(context), autoescape=False)).strip()


def render(template: MessageTemplate, channel: str, context: Mapping[str, ContextValue]) -> Rendered:
    """The subject and body of `template` on `channel` (SMS has no subject)."""
    missing = [key for key in template.required if key not in context]
    if missing:
        raise TemplateContextMissing(
            f"模板{template.code}缺少变量：{', '.join(missing)}", code="template_context_missing"
        )
    if channel == rules.INBOX:
        return Rendered(_render(template.title, context), _render(template.body, context))
    if channel == rules.EMAIL:
        return Rendered(_render(template.email_subject, context), _render(template.email_body, context))
    if channel == rules.SMS:
        return Rendered("", _render(template.sms, context))
    raise ValueError(f"unknown channel {channel!r}")


GENERIC = (
    MessageTemplate(
        code="policy.issued",
        category=rules.SERVICE,
        required=("policy_number", "product_name", "effective_at"),
        title="保单已生效：{{ product_name }}",
        body=(
            "您投保的{{ product_name }}已承保，保单号{{ policy_number }}，"
            "自{{ effective_at|date:'Y年n月j日' }}起生效。电子保单可在“我的保单”中查看和下载。"
        ),
        email_subject="【汇保】您的保单{{ policy_number }}已生效",
        email_body=(
            "尊敬的客户：\n\n"
            "您投保的{{ product_name }}已承保，保单号{{ policy_number }}，"
            "自{{ effective_at|date:'Y年n月j日' }}起生效。\n"
            "{% if premium %}保费：{{ premium }}元。\n{% endif %}"
            "电子保单可登录汇保，在“我的保单”中查看和下载。\n\n汇保"
        ),
        sms=(
            "【汇保】您投保的{{ product_name }}已生效，保单号{{ policy_number }}。"
            "电子保单请在“我的保单”中查看。"
        ),
    ),
    MessageTemplate(
        code="service.notice",
        category=rules.SERVICE,
        required=("title", "text"),
        title="{{ title }}",
        body="{{ text }}",
        email_subject="【汇保】{{ title }}",
        email_body="尊敬的客户：\n\n{{ text }}\n\n汇保",
        sms="【汇保】{{ text }}",
    ),
    MessageTemplate(
        code="marketing.notice",
        category=rules.MARKETING,
        required=("title", "text"),
        title="{{ title }}",
        body="{{ text }}",
        email_subject="【汇保】{{ title }}",
        email_body="{{ text }}\n\n不想再收到此类消息？登录汇保，在“消息设置”中关闭营销消息。",
        sms="【汇保】{{ text }} 退订回T",
    ),
)


def register_defaults() -> None:
    for template in GENERIC:
        register(template)
