"""Demo data of the provider network: 20 providers over eight provinces, the demo provider
log-in linked to one of them, and two demo tasks for it (idempotent: run again, nothing new).

Called by `manage.py setup_demo` (after the demo log-ins exist) and `manage.py load_demo_providers`.
The demo tasks' subject kind is "demo", so no claim timeline ever shows them."""

from __future__ import annotations

from dataclasses import dataclass

from django.db import transaction

from huibao.account.models import User
from huibao.provider.models import ProviderUser, ServiceProvider
from huibao.provider.rules import TaskSubject
from huibao.provider.services import ProviderInput, assign_task, create_provider

DEMO_PROVIDER_USERNAME = "provider"  # the demo staff log-in of the "provider" role
DEMO_PROVIDER_CODE = "sz-rescue-01"
SURVEY = ("survey", "assessment")

# code, name, kind, capabilities, regions, licence
PROVIDERS: tuple[tuple[str, str, str, tuple[str, ...], tuple[str, ...], str], ...] = (
    ("sz-rescue-01", "深圳鹏城道路救援", "rescue", ("rescue",), ("4403",), "粤交运救字440300001"),
    ("gd-assess-01", "广东华粤保险公估", "assessor", SURVEY, ("44",), "公估许可44000012"),
    (
        "gz-repair-01",
        "广州天河汽车维修中心",
        "repair",
        ("repair", "assessment"),
        ("4401",),
        "粤维修440100088",
    ),
    ("gz-hosp-01", "广州市第一人民医院", "hospital", ("medical_review",), ("4401",), "医疗机构44010001"),
    ("sh-assess-01", "上海浦江保险公估", "assessor", SURVEY, ("31",), "公估许可31000021"),
    ("sh-rescue-01", "上海申通道路救援", "rescue", ("rescue",), ("31",), "沪交运救字310000005"),
    ("sh-legal-01", "上海明理法律援助中心", "legal", ("legal",), ("31",), "律所31010007"),
    ("bj-assess-01", "北京京华保险公估", "assessor", SURVEY, ("11",), "公估许可11000033"),
    ("bj-rescue-01", "北京畅行道路救援", "rescue", ("rescue",), ("11",), "京交运救字110000009"),
    ("bj-hosp-01", "北京协和医学审核中心", "hospital", ("medical_review",), ("11",), "医疗机构11010002"),
    ("zj-assess-01", "浙江之江保险公估", "assessor", SURVEY, ("33",), "公估许可33000041"),
    ("hz-repair-01", "杭州西湖汽车修理厂", "repair", ("repair",), ("3301",), "浙维修330100021"),
    ("js-assess-01", "江苏金陵保险公估", "assessor", SURVEY, ("32",), "公估许可32000052"),
    ("sz2-rescue-01", "苏州姑苏道路救援", "rescue", ("rescue",), ("3205",), "苏交运救字320500003"),
    ("sc-assess-01", "四川天府保险公估", "assessor", SURVEY, ("51",), "公估许可51000061"),
    ("cd-hosp-01", "成都华西医疗审核中心", "hospital", ("medical_review",), ("5101",), "医疗机构51010003"),
    ("hb-assess-01", "湖北楚天保险公估", "assessor", SURVEY, ("42",), "公估许可42000071"),
    ("wh-legal-01", "武汉江城法律援助中心", "legal", ("legal",), ("4201",), "律所42010011"),
    ("sd-assess-01", "山东齐鲁保险公估", "assessor", SURVEY, ("37",), "公估许可37000081"),
    ("qd-rescue-01", "青岛海滨道路救援", "rescue", ("rescue", "repair"), ("3702",), "鲁交运救字370200004"),
)


@dataclass(frozen=True, slots=True)
class DemoReport:
    providers_created: int
    linked_user: str  # the demo provider log-in's username ("" when it does not exist)
    provider_name: str


def load_providers() -> DemoReport:
    with transaction.atomic():
        existing = set(ServiceProvider.objects.values_list("code", flat=True))
        created = 0
        for code, name, kind, caps, regions, licence in PROVIDERS:
            if code in existing:
                continue
            create_provider(
                ProviderInput(
                    code=code,
                    name=name,
                    kind=kind,
                    capabilities=caps,
                    regions=regions,
                    licence_number=licence,
                    contact_name="调度中心",
                    contact_phone=f"139{len(existing) + created:08d}",
                ),
                actor="load_demo",
            )
            created += 1
        provider = ServiceProvider.objects.get(code=DEMO_PROVIDER_CODE)
        user = User.objects.filter(username=DEMO_PROVIDER_USERNAME).first()
        if user is None:
            return DemoReport(created, "", provider.name)
        ProviderUser.objects.update_or_create(user=user, defaults={"provider": provider})
        for reference, summary in (
            ("DEMO-RESCUE-1", "深圳市南山区科技园南路，车辆无法启动，需搭电或拖车"),
            ("DEMO-RESCUE-2", "深圳市福田区深南大道，左前轮爆胎，需换胎"),
        ):
            assign_task(
                TaskSubject("demo", reference, "440305", summary), "rescue", provider, actor="load_demo"
            )
    return DemoReport(created, user.username, provider.name)
