from pathlib import Path

import pytest
from django.contrib.auth.models import Group, Permission
from django.contrib.staticfiles import finders
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.plugins.otp_totp.models import TOTPDevice

from huibao.account.models import User, UserKind
from huibao.catalog.models import CatalogRevision, Insurer, ProductStatus, ProductVersion, VersionStatus
from huibao.catalog.tests.factories import InsurerFactory, PlanFactory, ProductVersionFactory, on_sale_product
from huibao.core.models import AuditEntry
from huibao.rating.models import Quote

pytestmark = pytest.mark.django_db

CATALOG_MODELS = ("insurer", "product", "productversion", "plan", "coverage", "document", "crowd", "scenario")


def role_group(code, actions):
    """The role group as `setup_roles` makes it; given its permissions here so the test does not
    depend on the roles table."""
    group, _ = Group.objects.get_or_create(name=code)
    codenames = [f"{a}_{m}" for a in actions for m in CATALOG_MODELS]
    group.permissions.set(
        Permission.objects.filter(content_type__app_label="catalog", codename__in=codenames)
    )
    group.permissions.add(Permission.objects.get(content_type__app_label="rating", codename="view_quote"))
    return group


def staff_client(client, username, group):
    """A staff user in `group`, logged in with a verified TOTP device, as the admin requires."""
    user = User.objects.create_user(
        username=username, password="x-unused-123", kind=UserKind.STAFF, is_staff=True
    )
    user.groups.add(group)
    device = TOTPDevice.objects.create(user=user, name="test", confirmed=True)
    client.force_login(user)
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = device.persistent_id
    session.save()
    return client


@pytest.fixture
def operator(client):
    return staff_client(client, "op", role_group("operator", ["add", "change", "view"]))


@pytest.fixture
def customer_service(client):
    return staff_client(client, "cs", role_group("customer_service", ["view"]))


def insurer_form(insurer, **changes):
    data = {
        "code": insurer.code,
        "name": insurer.name,
        "short_name": insurer.short_name,
        "kind": insurer.kind,
        "founded_year": "",
        "registered_capital_yi": "",
        "solvency_ratio": "",
        "service_rating": "",
        "hotline": insurer.hotline,
        "headquarters": "",
        "description": "",
        "is_active": "on",
    }
    data.update(changes)
    return data


def test_admin_requires_a_verified_otp_device(client):
    # given: a staff user logged in with a password only
    user = User.objects.create_user(username="nootp", password="x", kind=UserKind.STAFF, is_staff=True)
    user.groups.add(role_group("operator", ["add", "change", "view"]))
    client.force_login(user)

    # when
    response = client.get("/admin/catalog/insurer/")

    # then: sent to the admin login (which asks for the TOTP code)
    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]


def test_admin_is_themed(operator):
    # when
    response = operator.get("/admin/")

    # then
    assert response.status_code == 200
    assert "汇保管理后台" in response.content.decode()
    # the theme is a stylesheet (the Content-Security-Policy allows no inline style)
    assert "/static/css/admin.css" in response.content.decode()
    assert "--primary: #0b5fff" in Path(finders.find("css/admin.css")).read_text(encoding="utf-8")


def test_operator_can_change_an_insurer_and_the_change_is_audited(operator):
    # given
    insurer = InsurerFactory(code="pingan", name="中国平安财产保险股份有限公司", short_name="平安产险")
    counter_before = CatalogRevision.objects.filter(pk=1).values_list("counter", flat=True).first() or 0

    # when
    response = operator.post(
        f"/admin/catalog/insurer/{insurer.pk}/change/", insurer_form(insurer, hotline="95511")
    )

    # then
    assert response.status_code == 302, response.content.decode()[:2000]
    insurer.refresh_from_db()
    assert insurer.hotline == "95511"
    entry = AuditEntry.objects.filter(object_type="catalog.insurer", object_id=str(insurer.pk)).latest("id")
    assert entry.action == "update"
    assert CatalogRevision.objects.get(pk=1).counter > counter_before


def test_customer_service_can_view_but_not_change_an_insurer(customer_service):
    # given
    insurer = InsurerFactory(code="pingan", name="中国平安财产保险股份有限公司", short_name="平安产险")

    # when
    listing = customer_service.get("/admin/catalog/insurer/")
    page = customer_service.get(f"/admin/catalog/insurer/{insurer.pk}/change/")
    post = customer_service.post(
        f"/admin/catalog/insurer/{insurer.pk}/change/", insurer_form(insurer, hotline="95511")
    )
    add = customer_service.get("/admin/catalog/insurer/add/")

    # then: the page renders read-only, and the change is refused
    assert listing.status_code == 200
    assert page.status_code == 200
    assert 'name="hotline"' not in page.content.decode()
    assert post.status_code == 403
    insurer.refresh_from_db()
    assert insurer.hotline == "95500"
    assert add.status_code == 403


def test_published_version_is_read_only(operator):
    # given
    product = on_sale_product(code="pa", name="平安意外险")
    version = product.current_version

    # when
    page = operator.get(f"/admin/catalog/productversion/{version.pk}/change/")

    # then: no editable fields and no inline forms for plans
    html = page.content.decode()
    assert page.status_code == 200
    assert 'name="tagline"' not in html
    assert 'name="pricing"' not in html
    assert 'name="plans-0-code"' not in html


def test_draft_version_is_editable(operator):
    # given
    product = on_sale_product(code="pa", name="平安意外险")
    draft = ProductVersionFactory(product=product, number=2, status=VersionStatus.DRAFT)
    PlanFactory(version=draft, code="basic")

    # when
    page = operator.get(f"/admin/catalog/productversion/{draft.pk}/change/")

    # then
    html = page.content.decode()
    assert 'name="tagline"' in html
    assert 'name="pricing"' in html
    assert 'name="plans-0-code"' in html


def test_new_version_and_publish_actions(operator):
    # given
    product = on_sale_product(code="pa", name="平安意外险")

    # when: an operator opens a new version from the product list
    operator.post(
        "/admin/catalog/product/",
        {"action": "make_new_version", "_selected_action": [product.pk]},
    )

    # then
    draft = ProductVersion.objects.get(product=product, status=VersionStatus.DRAFT)
    assert draft.number == 2

    # when: the draft is published
    response = operator.post(
        "/admin/catalog/productversion/",
        {"action": "publish", "_selected_action": [draft.pk]},
        follow=True,
    )

    # then
    assert response.status_code == 200
    draft.refresh_from_db()
    product.refresh_from_db()
    assert draft.status == VersionStatus.PUBLISHED, [str(m) for m in response.context["messages"]]
    assert product.current_version_id == draft.pk
    assert product.status == ProductStatus.ON_SALE


def test_customer_service_cannot_run_catalog_actions(customer_service):
    # given
    product = on_sale_product(code="pa", name="平安意外险")

    # when
    customer_service.post(
        "/admin/catalog/product/", {"action": "make_new_version", "_selected_action": [product.pk]}
    )

    # then
    assert not ProductVersion.objects.filter(product=product, status=VersionStatus.DRAFT).exists()


def test_quote_admin_shows_inputs_and_steps(customer_service):
    # given
    product = on_sale_product(code="pa", name="平安意外险")
    version = product.current_version
    quote = Quote.objects.create(
        product_version=version,
        plan=version.plans.get(),
        inputs={"age": 30, "sum_insured": "100000"},
        steps=[
            {
                "name": "premium",
                "label": "应缴保费",
                "expr": "sum_insured * rate",
                "value": "100.00",
                "lookups": [{"table": "occupation", "key": "1", "value": "1"}],
            }
        ],
        premium="100.00",
        engine_version="1",
    )

    # when
    page = customer_service.get(f"/admin/rating/quote/{quote.pk}/change/")

    # then
    html = page.content.decode()
    assert page.status_code == 200
    assert "<th>sum_insured</th><td>100000</td>" in html
    assert "<code>sum_insured * rate</code>" in html
    assert "occupation[1] = 1" in html
    assert 'name="premium"' not in html
    assert Insurer.objects.count() == 1
