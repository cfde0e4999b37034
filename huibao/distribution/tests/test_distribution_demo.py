"""The demo: an agreement per insurer, the hierarchy, the demo log-ins linked; idempotent."""

from __future__ import annotations

import pytest

from huibao.account.models import User, UserKind
from huibao.distribution.demo import DEMO_AGENT_CODE, DEMO_CHANNEL_CODE, load_demo_distribution
from huibao.distribution.models import InsurerAgreement, SalesUnit, SalesUnitMember
from huibao.distribution.tests import factories as f

pytestmark = pytest.mark.django_db


def test_the_demo_has_an_agreement_per_insurer_and_the_whole_hierarchy_and_runs_twice():
    # given two insurers without agreements and the demo log-ins
    insurers = [f.bare_insurer(), f.bare_insurer()]
    agent = User.objects.create_user(username="agent", password="x", kind=UserKind.STAFF, is_staff=True)
    manager = User.objects.create_user(
        username="channel_manager", password="x", kind=UserKind.STAFF, is_staff=True
    )
    # when the demo is loaded twice
    first = load_demo_distribution()
    second = load_demo_distribution()
    # then
    assert first.units == second.units == SalesUnit.objects.count()
    for insurer in insurers:
        assert InsurerAgreement.objects.filter(insurer=insurer, status="active").count() == 1
    kinds = list(SalesUnit.objects.values_list("kind", flat=True))
    assert (
        kinds.count("branch"),
        kinds.count("team"),
        kinds.count("channel"),
        kinds.count("subchannel"),
    ) == (2, 4, 2, 4)
    assert 8 <= kinds.count("agent") <= 12
    assert SalesUnit.objects.get(code=DEMO_AGENT_CODE).user_id == agent.pk
    assert SalesUnitMember.objects.filter(
        unit__code=DEMO_CHANNEL_CODE, user=manager, is_manager=True
    ).exists()
    for u in SalesUnit.objects.exclude(parent=None).select_related("parent"):
        assert u.path == f"{u.parent.path}/{u.code}"
