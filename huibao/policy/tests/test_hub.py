"""The per-policy actions hub (policy/actions.py): the registry's filtering and order, the policy
app's own actions, and the "我能做什么" section of the policy pages."""

from __future__ import annotations

import pytest
from django.utils import timezone

from huibao.billing import rules as billing_rules
from huibao.billing.models import PremiumSchedule
from huibao.policy import actions, hub
from huibao.policy.lifecycle import lock_policy, transition
from huibao.policy.states import PolicyStatus
from huibao.policy.tests import factories as f

pytestmark = pytest.mark.django_db


@pytest.fixture
def owner():
    return f.customer()


@pytest.fixture
def policy(owner):
    return f.simple_issued(owner)


@pytest.fixture
def monthly(owner):
    version = f.product_version()
    app = f.application(
        [(version, f.Person(), 500_000, "1200.00", {"term": "1y", "payment_mode": "monthly"})], customer=owner
    )
    return f.issue(app)[0]


@pytest.fixture
def scratch():
    """Actions registered by a test are removed after it."""
    keys: list[str] = []
    yield keys
    for key in keys:
        actions.unregister_action(key)


def _keys(policy, user) -> list[str]:
    return [a.key for a in actions.actions_for(policy, user)]


def test_the_registry_filters_by_policy_and_user_and_orders(policy, owner, scratch) -> None:
    other = f.customer()
    scratch += ["t_first", "t_owner_only", "t_pending_only"]
    actions.register_action(
        "t_pending_only",
        label="只在待生效",
        url_name="policy:detail",
        order=5,
        available=lambda p, u: p.status == PolicyStatus.PENDING_START,
    )
    actions.register_action(
        "t_owner_only", label="本人", url_name="policy:detail", order=3, available=lambda p, u: u == owner
    )
    actions.register_action(
        "t_first", label="第一", url_name="policy:detail", order=1, available=lambda p, u: True
    )

    mine = actions.actions_for(policy, owner)
    assert [a.key for a in mine][:3] == ["t_first", "t_owner_only", "t_pending_only"]
    assert [a.order for a in mine] == sorted(a.order for a in mine)
    assert mine[0].url == f"/policy/mine/{policy.public_id}/" and mine[0].label == "第一" and mine[0].urgent
    # another user: not the owner-only one
    assert "t_owner_only" not in _keys(policy, other)
    # the policy moves on: the pending-only one goes
    with_lock = lock_policy(policy.pk)
    transition(with_lock, PolicyStatus.IN_FORCE, reason="start", actor="test")
    assert "t_pending_only" not in _keys(with_lock, owner)


def test_an_action_whose_page_does_not_exist_is_left_out(policy, owner, scratch) -> None:
    scratch.append("t_missing")
    called = []
    actions.register_action(
        "t_missing",
        label="未建",
        url_name="policy:no_such_page",
        order=1,
        available=lambda p, u: called.append(1) or True,
    )
    assert "t_missing" not in _keys(policy, owner)
    assert called == []  # not even asked


def test_registering_a_key_again_replaces_it(policy, owner, scratch) -> None:
    scratch.append("t_twice")
    actions.register_action(
        "t_twice", label="一", url_name="policy:detail", order=1, available=lambda p, u: True
    )
    actions.register_action(
        "t_twice", label="二", url_name="policy:detail", order=2, available=lambda p, u: True
    )
    found = [a for a in actions.actions_for(policy, owner) if a.key == "t_twice"]
    assert [(a.label, a.order) for a in found] == [("二", 2)]


def test_every_policy_has_its_documents_history_verification_and_help(policy, owner) -> None:
    found = {a.key: a for a in actions.actions_for(policy, owner)}
    assert {"epolicy", "history", "verify", "contact"} <= set(found)
    assert found["epolicy"].url == f"/policy/mine/{policy.public_id}/epolicy.pdf"
    assert found["verify"].url == f"/policy/verify/{policy.verification_code}/"
    assert found["contact"].url.endswith("#service")
    assert found["history"].url == f"/policy/mine/{policy.public_id}/history/"
    # a single-premium policy has no instalments to pay nor an authorisation
    assert not {"pay_now", "premiums", "mandate"} & set(found)


def test_detail_page_lists_the_actions_at_the_top(client, policy, owner) -> None:
    client.force_login(owner)
    html = client.get(f"/policy/mine/{policy.public_id}/").content.decode()
    hub_at = html.index('data-testid="policy-hub"')
    assert "我能做什么" in html
    for key in ("epolicy", "history", "verify", "contact"):
        assert f'data-action="{key}"' in html
        assert html.index(f'data-action="{key}"') > hub_at
    # before the rest of the page (the coverage table, the parties)
    assert hub_at < html.index("保险责任")
    assert 'data-testid="status"' in html and "待生效" in html
    assert "将于" in html  # what pending means: when it starts


def test_in_grace_the_status_says_by_when_to_pay(monthly, owner) -> None:
    schedule = hub.schedule_of(monthly)
    second = schedule.instalments.get(number=2)
    second.status = "overdue"
    second.save(update_fields=["status"])
    with_lock = lock_policy(monthly.pk)
    transition(with_lock, PolicyStatus.IN_FORCE, reason="start", actor="test")
    transition(with_lock, PolicyStatus.IN_GRACE, reason="instalment_overdue", actor="test")
    fresh = lock_policy(monthly.pk)
    import datetime

    ends = second.due_on + datetime.timedelta(days=schedule.grace_days)
    assert ends.strftime("%Y-%m-%d") in hub.status_meaning(fresh)
    # and paying is the first, urgent action (the premiums record gives way to it)
    found = actions.actions_for(fresh, monthly.customer)
    assert found[0].key == "pay_now" and found[0].urgent
    assert found[0].url == f"/policy/mine/{monthly.public_id}/premiums/"
    assert "premiums" not in [a.key for a in found]


def test_my_policies_puts_pay_now_first_for_a_policy_in_grace(client, monthly, owner) -> None:
    schedule = hub.schedule_of(monthly)
    schedule.instalments.filter(number=2).update(status="overdue")
    with_lock = lock_policy(monthly.pk)
    transition(with_lock, PolicyStatus.IN_FORCE, reason="start", actor="test")
    transition(with_lock, PolicyStatus.IN_GRACE, reason="instalment_overdue", actor="test")
    client.force_login(owner)
    html = client.get("/policy/mine/").content.decode()
    top = html[html.index('data-testid="top-action"') - 200 : html.index('data-testid="top-action"') + 80]
    assert 'data-action="pay_now"' in top and "续期缴费" in html
    detail = client.get(f"/policy/mine/{monthly.public_id}/").content.decode()
    assert 'hub-action hub-action--urgent" href="/policy/mine/' in detail


def test_elder_mode_renders_the_hub(client, policy, owner) -> None:
    client.force_login(owner)
    client.cookies["elder_mode"] = "1"
    html = client.get(f"/policy/mine/{policy.public_id}/").content.decode()
    assert 'class="elder"' in html and 'data-testid="policy-hub"' in html
    # what the status means is not `.secondary` (elder mode hides that)
    meaning = html[
        html.index('data-testid="status-meaning"') - 80 : html.index('data-testid="status-meaning"')
    ]
    assert "secondary" not in meaning


def test_my_policies_shows_the_most_relevant_action(client, policy, owner) -> None:
    client.force_login(owner)
    html = client.get("/policy/mine/").content.decode()
    assert 'data-testid="top-action"' in html and 'data-action="epolicy"' in html
    assert f'href="/policy/mine/{policy.public_id}/"' in html


def test_another_customers_policy_is_not_found(client, policy) -> None:
    client.force_login(f.customer())
    assert client.get(f"/policy/mine/{policy.public_id}/").status_code == 404
    assert client.get(f"/policy/mine/{policy.public_id}/history/").status_code == 404


def test_lapsed_says_until_when_it_may_be_reinstated(monthly) -> None:
    import datetime

    schedule = hub.schedule_of(monthly)
    lapsed_on = timezone.localdate() - datetime.timedelta(days=10)
    PremiumSchedule.objects.filter(pk=schedule.pk).update(status="lapsed", lapsed_on=lapsed_on)
    with_lock = lock_policy(monthly.pk)
    transition(with_lock, PolicyStatus.IN_FORCE, reason="start", actor="test")
    transition(with_lock, PolicyStatus.IN_GRACE, reason="instalment_overdue", actor="test")
    transition(with_lock, PolicyStatus.LAPSED, reason="grace_over", actor="test")
    fresh = lock_policy(monthly.pk)
    until = billing_rules.reinstatement_until(lapsed_on)
    assert f"{until:%Y-%m-%d}前补缴所欠保费可申请复效" in hub.status_meaning(fresh)
    found = actions.actions_for(fresh, monthly.customer)
    assert (
        found[0].key == "reinstate"
        and found[0].url == f"/policy/mine/{monthly.public_id}/premiums/reinstate/"
    )
    assert found[0].api_url == f"/api/v1/policies/{monthly.public_id}/reinstatement"


def test_elder_mode_renders_the_history_and_authorisation_pages(client, monthly, owner) -> None:
    client.force_login(owner)
    client.cookies["elder_mode"] = "1"
    for path in ("history/", "history/?on=2026-01-01", "mandate/"):
        response = client.get(f"/policy/mine/{monthly.public_id}/{path}")
        html = response.content.decode()
        assert response.status_code == 200 and 'class="elder"' in html, path
    # the answer for a day is content, not `.secondary` (which elder mode hides)
    html = client.get(f"/policy/mine/{monthly.public_id}/history/?on=2026-01-01").content.decode()
    assert 'data-testid="as-of"' in html and "保单尚未签发" in html
