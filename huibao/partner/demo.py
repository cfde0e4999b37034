"""`load_demo_partners()`: a channel partner "demo-shop" (the 拼多多 shopping channel of the demo
hierarchy) and an insurer partner (the first demo insurer selling return-shipping cover, else
the first insurer), each with one HMAC client. Idempotent: run again, it finds them."""

from __future__ import annotations

from dataclasses import dataclass

from django.db import transaction

from huibao.catalog.models import Insurer, LineOfBusiness
from huibao.distribution.models import SalesUnit
from huibao.partner import services
from huibao.partner.models import ApiClient, Partner
from huibao.partner.states import Algorithm, ClientStatus, PartnerKind, Scope

DEMO_SHOP = "demo-shop"
DEMO_INSURER = "demo-insurer"
DEMO_CHANNEL_UNIT = "CH-PDD"


@dataclass(frozen=True, slots=True)
class DemoClient:
    partner: str
    key_id: str
    secret: str


def _client(partner: Partner, scopes: list[str]) -> DemoClient:
    found = ApiClient.objects.filter(
        partner=partner, status=ClientStatus.ACTIVE, algorithm=Algorithm.HMAC_SHA256
    ).first()
    if found is None:
        found = services.create_client(
            partner,
            services.ClientData(algorithm=Algorithm.HMAC_SHA256, scopes=scopes, label="demo"),
            actor=None,
        ).client
    return DemoClient(partner.code, found.key_id, found.secret)


def load_demo_partners() -> list[DemoClient]:
    made: list[DemoClient] = []
    with transaction.atomic():
        unit = SalesUnit.objects.filter(code=DEMO_CHANNEL_UNIT).first()
        if unit is not None:
            shop = Partner.objects.filter(code=DEMO_SHOP).first() or services.create_partner(
                services.PartnerData(
                    DEMO_SHOP, "演示商城（拼多多保险频道）", PartnerKind.CHANNEL, sales_unit=unit
                ),
                actor=None,
            )
            made.append(_client(shop, list(Scope.values)))
        insurer = (
            Insurer.objects.filter(products__line=LineOfBusiness.RETURN_SHIPPING).order_by("code").first()
            or Insurer.objects.order_by("code").first()
        )
        if insurer is not None:
            partner = Partner.objects.filter(code=DEMO_INSURER).first() or services.create_partner(
                services.PartnerData(
                    DEMO_INSURER, f"{insurer.short_name}（接口）", PartnerKind.INSURER, insurer=insurer
                ),
                actor=None,
            )
            made.append(
                _client(
                    partner,
                    [Scope.POLICIES_READ, Scope.EVENTS_WRITE, Scope.STATEMENTS_READ, Scope.WEBHOOKS_READ],
                )
            )
    return made
