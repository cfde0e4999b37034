"""Commission entries and rules in words, for the staff pages and the API."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.utils.translation import gettext as _

from huibao.finance import commission_rules as rules
from huibao.finance.commission_models import CommissionRule
from huibao.finance.models import CommissionEntry


def rule_scope(rule: CommissionRule) -> str:
    parts = []
    if rule.insurer is not None:
        parts.append(rule.insurer.short_name)
    if rule.product is not None:
        parts.append(rule.product.name)
    elif rule.line:
        parts.append(_("险种：%(line)s") % {"line": rule.line})
    else:
        parts.append(_("全部产品"))
    parts.append(rule.channel.name if rule.channel is not None else _("全部渠道"))
    parts.append(rule.mode or _("全部交费方式"))
    parts.append(
        _("第%(year)s年及以后") % {"year": rule.year}
        if rule.and_later
        else _("第%(year)s年") % {"year": rule.year}
    )
    return " · ".join(parts)


def rule_pays(rule: CommissionRule) -> str:
    if rule.basis == rules.BASIS_FIXED:
        text = _("每单固定 ¥%(amount)s") % {"amount": rule.fixed_amount}
    else:
        text = _("净保费的 %(rate)s") % {"rate": rules.percent(rule.rate)}
    if rule.tiers:
        steps = "；".join(
            _("月保费满¥%(t)s按%(r)s") % {"t": t["threshold"], "r": rules.percent(Decimal(t["rate"]))}
            for t in rule.tiers
        )
        text += f"（{steps}）"
    return text


def explain(entry: CommissionEntry) -> str:
    """One sentence: what the amount was computed from."""
    e: dict[str, Any] = entry.explanation or {}
    what = e.get("what", entry.get_event_display())
    if "method" in e:
        method = {
            "full_cooling_off": _("犹豫期内退保，全额追回已计%(earned)s元"),
            "pro_rata": _("犹豫期后退保，按退费比例%(share)s追回已计%(earned)s元"),
            "percent": _("犹豫期后退保，按规则比例%(share)s追回已计%(earned)s元"),
            "none": _("犹豫期后退保，规则约定不追回"),
            "nothing_earned": _("无已计佣金，无需追回"),
        }.get(e["method"], e["method"])
        return f"{what}：" + method % {"earned": e.get("earned", "0"), "share": e.get("share", "")}
    if e.get("basis") == rules.BASIS_FIXED:
        return _(
            "%(what)s：规则%(rule)s（政策版本%(version)s）每单固定%(fixed)s元 × %(share)s，四舍五入到分"
        ) % {
            "what": what,
            "rule": e.get("rule"),
            "version": e.get("version"),
            "fixed": e.get("fixed_amount"),
            "share": e.get("share"),
        }
    if e.get("basis") == rules.BASIS_RATE:
        return _(
            "%(what)s：保费%(premium)s元 ÷ (1 + 增值税%(vat)s) = 净保费%(base)s元 × 费率%(rate)s"
            "（规则%(rule)s，政策版本%(version)s，第%(year)s年），四舍五入到分"
        ) % {
            "what": what,
            "premium": e.get("premium"),
            "vat": rules.percent(Decimal(e.get("vat_rate", "0"))),
            "base": e.get("base"),
            "rate": rules.percent(Decimal(e.get("rate", "0"))),
            "rule": e.get("rule"),
            "version": e.get("version"),
            "year": e.get("year", entry.policy_year),
        }
    if "tier" in e:
        return _("%(what)s：%(month)s月保费%(premium)s元达到第%(tier)s档，按%(rate)s补差") % {
            "what": what,
            "month": e.get("month"),
            "premium": e.get("month_premium"),
            "tier": e.get("tier"),
            "rate": rules.percent(Decimal(e.get("tier_rate", "0"))),
        }
    return str(what)
