from __future__ import annotations

import pytest
from django.contrib.auth.models import Group
from django.core.management import call_command

from huibao.account.services import create_staff_user, sync_roles

from .conftest import PASSWORD

pytestmark = pytest.mark.django_db


def _perms(group: str) -> set[str]:
    return {
        f"{app}.{code}"
        for app, code in Group.objects.get(name=group).permissions.values_list(
            "content_type__app_label", "codename"
        )
    }


def test_migrate_created_the_role_groups():
    assert set(Group.objects.values_list("name", flat=True)) >= {
        "operator",
        "agent",
        "underwriter",
        "claims_adjuster",
        "fraud_analyst",
        "finance",
        "customer_service",
        "auditor",
        "admin",
    }


def test_setup_roles_is_idempotent_and_restores_the_table():
    # given: someone gave the underwriter a permission the table does not declare
    from django.contrib.auth.models import Permission

    Group.objects.get(name="underwriter").permissions.add(Permission.objects.get(codename="delete_product"))
    # when: run twice
    call_command("setup_roles", verbosity=0)
    call_command("setup_roles", verbosity=0)
    # then
    assert Group.objects.filter(name="underwriter").count() == 1
    assert "catalog.delete_product" not in _perms("underwriter")


def test_setup_roles_prints_its_table_only_when_asked():
    # given
    from io import StringIO

    quiet, loud = StringIO(), StringIO()
    # when: setup_demo's call (verbosity 0), then a person's
    call_command("setup_roles", verbosity=0, stdout=quiet)
    call_command("setup_roles", verbosity=1, stdout=loud)
    # then: the quiet run prints nothing but still syncs; the other shows every role
    assert quiet.getvalue() == ""
    assert "underwriter" in loud.getvalue() and "permissions" in loud.getvalue()


def test_role_permissions_follow_the_table():
    sync_roles()
    operator, underwriter, auditor, admin = (
        _perms(g) for g in ("operator", "underwriter", "auditor", "admin")
    )
    assert {"catalog.add_product", "catalog.change_plan", "catalog.view_insurer"} <= operator
    assert "catalog.delete_product" not in operator
    assert {"catalog.view_product", "rating.view_quote"} <= underwriter
    assert "underwriting.change_underwritingcase" in underwriter
    # and referred reinstatements (复效人工核保), decided from the servicing queue
    reinstatements = {
        "policy.view_policy",
        "policy.view_reinstatementreferral",
        "policy.decide_reinstatement",
    }
    assert reinstatements <= underwriter
    assert not {
        p
        for p in underwriter - reinstatements
        if not p.startswith(("catalog.view_", "rating.view_", "application.view_", "underwriting."))
    }
    assert {"core.view_auditentry", "catalog.view_product", "rating.view_quote"} <= auditor
    assert "application.replay_application" in auditor
    assert all(".view_" in p or p == "application.replay_application" for p in auditor)
    # the sandbox's records (its SMS inbox holds one-time codes) are not the auditor's to read
    assert not any(p.startswith("sandbox.") for p in auditor)
    assert "sandbox.view_sandboxsms" in admin
    assert {"catalog.delete_product", "account.change_user"} <= admin


def test_staff_user_has_the_permissions_of_its_role():
    user = create_staff_user("op_wang", PASSWORD, ["operator"])
    assert user.has_perm("catalog.change_product")
    assert not user.has_perm("catalog.delete_product")
    auditor = create_staff_user("audit_zhao", PASSWORD, ["auditor"])
    assert auditor.has_perm("core.view_auditentry") and not auditor.has_perm("catalog.change_product")


def test_sync_reports_permissions_that_do_not_exist_yet(monkeypatch):
    from huibao.account import roles

    patched = dict(roles.ROLES)
    patched["finance"] = roles.Role("finance", "财务", ("rating.view_quote", "finance.view_settlement"))
    monkeypatch.setattr(roles, "ROLES", patched)
    report = {line.role: line for line in sync_roles()}
    assert report["finance"].missing == ("finance.view_settlement",)
    assert _perms("finance") == {"rating.view_quote"}


def test_agent_sees_the_catalog_and_no_one_elses_applications():
    agent = _perms("agent")
    assert "catalog.view_product" in agent
    assert not any(p.startswith(("application.", "policy.", "payment.")) for p in agent)
