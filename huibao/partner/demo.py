"""`load_demo_partners()`: a channel partner "demo-shop" (the 拼多多 shopping channel of the demo
hierarchy) and an insurer partner (the first demo insurer selling return-shipping cover, else
the first insurer), each with one HMAC client; and a few return-shipping policies sold in
demo-shop's checkout (embedded sales, `embedded.services.issue`), so that its partner API lists
policies in the demo. Idempotent: run again, it finds them (the sales' order references are
fixed: a second run answers the policies they already have)."""

from __future__ import annotations

import datetime
import hashlib
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from huibao.catalog import rules as catalog_rules
from huibao.catalog.models import Document, Insurer, LineOfBusiness, Product, ProductStatus
from huibao.distribution.models import SalesUnit
from huibao.embedded import rules as embedded_rules
from huibao.embedded import services as embedded_services
from huibao.embedded.rules import EmbeddedSale, ShownDocument
from huibao.partner import services
from huibao.partner.models import ApiClient, Partner
from huibao.partner.states import Algorithm, ClientStatus, PartnerKind, Scope

DEMO_SHOP = "demo-shop"
DEMO_INSURER = "demo-insurer"
DEMO_CHANNEL_UNIT = "CH-PDD"
# The embedded sales made in demo-shop's checkout (their order references: DEMO-SHOP-0001…).
DEMO_EMBEDDED_SALES = 3


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
            demo_embedded_policies(unit)
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


def _embedded_product() -> Product | None:
    """The first return-shipping product on sale whose current version allows embedded sale."""
    products = (
        Product.objects.filter(line=LineOfBusiness.RETURN_SHIPPING, status=ProductStatus.ON_SALE)
        .exclude(current_version=None)
        .select_related("current_version")
        .order_by("code")
    )
    for product in products:
        version = product.current_version
        if version is not None and catalog_rules.embedded_sale_terms(version.application_rules):
            return product
    return None


def demo_embedded_policies(unit: SalesUnit) -> list[str]:
    """`DEMO_EMBEDDED_SALES` return-shipping sales in the channel's checkout, issued through the
    embedded use-case as a partner's call would be (each priced at its inputs' defaults, with
    the current documents shown and a consent a minute old): the policy numbers (none when the
    demo catalog has no such product, or a sale is refused)."""
    product = _embedded_product()
    if product is None or product.current_version is None:
        return []
    version = product.current_version
    plan = version.plans.order_by("sort_order", "code").first()
    if plan is None:
        return []
    documents = tuple(
        ShownDocument(d.pk, d.content_sha256)
        for d in Document.objects.filter(version=version).order_by("sort_order", "id")
    )
    defaults = {
        name: str(spec["default"])
        for name, spec in ((version.pricing or {}).get("inputs") or {}).items()
        if isinstance(spec, dict) and "default" in spec
    }
    now = timezone.now()
    sales = []
    for n in range(1, DEMO_EMBEDDED_SALES + 1):
        ref = f"DEMO-SHOP-{n:04d}"
        scenario = dict(defaults)
        for field in embedded_rules.subject_fields(version.application_rules):
            scenario[field.code] = f"DEMO{n:08d}"
        sales.append(
            EmbeddedSale(
                product_code=product.code,
                plan_code=plan.code,
                identity_ref=hashlib.sha256(f"demo-shop-buyer-{n}".encode()).hexdigest(),
                order_ref=ref,
                documents=documents,
                consent_at=now - datetime.timedelta(minutes=1),
                page_version="demo-checkout-1",
                scenario=scenario,
                insured_name="演示买家",
            )
        )
    outcomes = embedded_services.issue(unit, sales, now=now)
    return [o.policy_number for o in outcomes if o.accepted and o.policy_number]
