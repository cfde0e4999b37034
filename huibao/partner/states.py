"""Partners' vocabulary: kinds, signing algorithms, scopes and the API client's status machine."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class PartnerKind(models.TextChoices):
    INSURER = "insurer", _("保险公司")
    CHANNEL = "channel", _("销售渠道")


class Algorithm(models.TextChoices):
    HMAC_SHA256 = "HMAC-SHA256", "HMAC-SHA256"
    # SHA256withRSA (PKCS#1 v1.5), as Alipay's RSA2 and WeChat Pay v3 sign.
    RSA_SHA256 = "RSA-SHA256", "RSA-SHA256 (SHA256withRSA)"


class Scope(models.TextChoices):
    POLICIES_READ = "policies:read", _("读取保单")
    EVENTS_WRITE = "events:write", _("推送理赔事件")
    EMBEDDED_ISSUE = "embedded:issue", _("嵌入式出单")
    STATEMENTS_READ = "statements:read", _("读取结算单")
    WEBHOOKS_READ = "webhooks:read", _("读取回调记录")


class ClientStatus(models.TextChoices):
    ACTIVE = "active", _("有效")
    # Replaced by a rotation: still accepted until `retire_at`, then refused.
    RETIRING = "retiring", _("轮换中（即将停用）")
    REVOKED = "revoked", _("已吊销")


CLIENT_TRANSITIONS: dict[str, frozenset[str]] = {
    ClientStatus.ACTIVE: frozenset({ClientStatus.RETIRING, ClientStatus.REVOKED}),
    ClientStatus.RETIRING: frozenset({ClientStatus.REVOKED}),
    ClientStatus.REVOKED: frozenset(),
}
