"""Real-name checks against the sandbox registry: answers, validation, retries, audit."""

from __future__ import annotations

import json

import pytest
from django.db import connection
from django.test import RequestFactory, override_settings
from django.test.utils import CaptureQueriesContext

from huibao.account.models import User
from huibao.core.errors import ValidationFailed
from huibao.core.models import AuditEntry
from huibao.identity import selectors, services
from huibao.identity.models import IdentityCheck
from huibao.identity.states import IdentityCheckStatus
from huibao.identity.tests import factories as f
from huibao.sandbox import identity as sandbox
from huibao.sandbox.models import SandboxCitizen

pytestmark = pytest.mark.django_db


def verify(name: str = f.NAME, id_number: str = f.ID_NUMBER, **kwargs: object) -> IdentityCheck:
    return services.verify_real_name(
        name=name, id_number=id_number, reference_kind=f.KIND, reference_id="A1", **kwargs
    )


def test_first_sight_registers_and_matches_then_the_same_person_matches_again() -> None:
    # when
    first = verify()
    second = verify(name=" 张 三 ")
    # then
    assert first.status == second.status == IdentityCheckStatus.VERIFIED
    assert first.verified and first.message == "实名认证通过"
    assert SandboxCitizen.objects.count() == 1
    first.refresh_from_db()
    assert first.id_number == f.ID_NUMBER and first.id_number_hash and first.name == "张三"
    assert first.attempts == 1 and first.provider == "sandbox" and first.provider_ref.startswith("SBXID")
    assert second.name == "张三"  # whitespace typed inside the name is not part of it


def test_the_registry_is_asked_in_one_statement_known_or_not() -> None:
    # when the registry is asked about a number it does not know, then about it again
    for name in (f.NAME, "李四"):
        with CaptureQueriesContext(connection) as captured:
            result, _ref = sandbox.registry_check(name, f.ID_NUMBER)
        # then each time one statement answers (registering it the first time)
        registry = [q for q in captured.captured_queries if "identity_sandboxcitizen" in q["sql"]]
        assert len(registry) == 1, registry
        assert result == ("match" if name == f.NAME else "mismatch")
    assert SandboxCitizen.objects.get().name == f.NAME  # the first name stays registered


def test_registered_id_with_another_name_is_a_mismatch() -> None:
    # given
    sandbox.register_citizen(f.NAME, f.ID_NUMBER)
    # when
    check = verify(name=f.OTHER_NAME)
    # then
    assert check.status == IdentityCheckStatus.MISMATCH and not check.verified
    assert check.message.startswith("姓名与身份证号码不一致")
    assert SandboxCitizen.objects.count() == 1  # the registry is not rewritten by a query


def test_name_with_the_mismatch_marker_never_matches() -> None:
    check = verify(name="张不符")
    assert check.status == IdentityCheckStatus.MISMATCH
    assert SandboxCitizen.objects.count() == 0


def test_sequence_999_has_no_record() -> None:
    check = verify(id_number=f.NO_RECORD_ID)
    assert check.status == IdentityCheckStatus.NO_RECORD
    assert "查无此身份证号码" in check.message
    assert SandboxCitizen.objects.count() == 0


@override_settings(HUIBAO_IDENTITY_SANDBOX={"no_record_sequences": ["123"]})
def test_no_record_rule_comes_from_settings() -> None:
    assert verify().status == IdentityCheckStatus.NO_RECORD
    assert verify(id_number=f.NO_RECORD_ID).status == IdentityCheckStatus.VERIFIED


def test_minority_name_and_x_check_digit_are_accepted() -> None:
    check = verify(name="阿卜杜拉•买买提", id_number=f.X_ID.lower())
    assert check.status == IdentityCheckStatus.VERIFIED
    assert check.name == f.MINORITY_NAME and check.id_number == f.X_ID


def test_bad_checksum_names_id_number_and_stores_nothing() -> None:
    # given
    audit_before = AuditEntry.objects.count()
    # when
    with pytest.raises(ValidationFailed) as exc:
        verify(id_number=f.BAD_CHECKSUM_ID)
    # then
    assert [e.field for e in exc.value.errors] == ["id_number"]
    assert exc.value.errors[0].code == "id_checksum"
    assert IdentityCheck.objects.count() == 0 and SandboxCitizen.objects.count() == 0
    assert AuditEntry.objects.count() == audit_before


def test_bad_name_and_bad_id_are_both_reported() -> None:
    with pytest.raises(ValidationFailed) as exc:
        verify(name="Zhang San", id_number="12345")
    assert {e.field: e.code for e in exc.value.errors} == {"name": "name_chars", "id_number": "id_format"}
    assert IdentityCheck.objects.count() == 0


def test_provider_failures_are_retried_then_succeed(pauses: list[float]) -> None:
    # given: the registry times out twice
    sandbox.force_failures(2)
    # when
    check = verify()
    # then
    assert check.status == IdentityCheckStatus.VERIFIED and check.attempts == 3
    assert pauses == [0.2, 0.5]
    assert sandbox.forced_failures_left() == 0


def test_all_attempts_failing_gives_unavailable(pauses: list[float]) -> None:
    # given: the registry keeps timing out
    sandbox.force_failures(5)
    # when
    check = verify()
    # then: three attempts, then a stored "unavailable" the caller can show
    assert check.status == IdentityCheckStatus.UNAVAILABLE and check.attempts == 3
    assert check.provider_ref == "" and "暂时不可用" in check.message
    assert sandbox.forced_failures_left() == 2 and len(pauses) == 2
    assert SandboxCitizen.objects.count() == 0
    entry = AuditEntry.objects.get(action="identity.real_name.unavailable")
    assert entry.object_id == str(check.public_id) and entry.after["attempts"] == 3


@override_settings(HUIBAO_IDENTITY_SANDBOX_FAILURE_RATE=1.0)
def test_failure_rate_setting_makes_the_registry_fail() -> None:
    assert verify().status == IdentityCheckStatus.UNAVAILABLE


def test_audit_entry_masks_the_id_number_and_names_the_actor() -> None:
    # given
    user = User.objects.create_user(username="agent1", password="x-unused-123")
    request = RequestFactory().post("/apply/", REMOTE_ADDR="198.51.100.7")
    request.user = user
    # when
    check = verify(request=request)
    # then
    entry = AuditEntry.objects.get(action="identity.real_name.verified")
    assert entry.object_type == "identity_check" and entry.object_id == str(check.public_id)
    assert entry.actor_id == user.pk and entry.ip == "198.51.100.7"
    assert entry.after["id_number"] == "110***********1239" and entry.after["status"] == "verified"
    dumped = json.dumps([entry.before, entry.after], ensure_ascii=False)
    assert f.ID_NUMBER not in dumped and f.NAME not in dumped


def test_explicit_actor_without_request_and_system_default() -> None:
    verify(actor="partner:abc")
    verify()
    actors = list(
        AuditEntry.objects.filter(action__startswith="identity.").values_list("actor_label", flat=True)
    )
    assert actors == ["partner:abc", "system"]


def test_latest_identity_check_selector() -> None:
    verify(name=f.OTHER_NAME, id_number=f.OTHER_ID)
    sandbox.register_citizen(f.NAME, f.ID_NUMBER)
    last = verify(name="王五")
    assert selectors.latest_identity_check(f.KIND, "A1") == last
    assert selectors.latest_identity_check(f.KIND, "nope") is None
