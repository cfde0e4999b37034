"""The sandbox adapters of the platform's ports, registered by `SandboxConfig.ready()`.

Each talks to its in-process sandbox the way a real adapter talks to its remote system: the payment
provider opens a hosted checkout and verifies the gateway's signed notifications; the identity
provider queries the registry (which may time out); the face provider opens a hosted session and
verifies the face service's notifications; the insurer connector sends policies (which can time
out or be refused) and verifies the insurer's signed acknowledgements.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.urls import reverse

from huibao.core.money import to_fen_int
from huibao.identity.errors import IdentityProviderUnavailable
from huibao.identity.errors import InvalidSignature as InvalidFaceSignature
from huibao.identity.models import FaceCheck
from huibao.identity.provider import FaceNotification, IdentityAnswer
from huibao.payment.errors import InvalidSignature as InvalidPaymentSignature
from huibao.payment.models import Payment, Payout
from huibao.payment.provider import (
    ChargeAccepted,
    Checkout,
    Mandate,
    MandateChargeRequest,
    Notification,
    PayoutAccepted,
    PayoutNotice,
    PayoutRefused,
    PayoutRequest,
    PayoutResult,
    PayoutResultStatus,
    RefundResult,
)
from huibao.policy.connector import Ack, ClaimNotice, public_url
from huibao.policy.errors import DeliveryFailed, InvalidAck
from huibao.sandbox import identity, insurer, insurer_claims, notifications, payment, payout
from huibao.sandbox.notifications import SandboxError

NAME = "sandbox"


def _payment_notification(data: Any, sent_at: datetime.datetime) -> Notification:
    return Notification(
        notify_id=str(data["notify_id"]),
        sent_at=sent_at,
        merchant_ref=str(data["merchant_ref"]),
        provider_txn_id=str(data["txn_id"]),
        status=data["status"],
        amount_fen=int(data["amount_fen"]),
        payer_name=str(data.get("payer_name", "")),
        payer_id_number=str(data.get("payer_id_number", "")),
        reason=str(data.get("reason", "")),
    )


def _payout_result(data: Any) -> PayoutResult:
    status = data["status"]
    if status not in ("processing", "success", "failed"):
        raise ValueError(f"unknown payout status '{status}'")
    return PayoutResult(
        out_biz_no=str(data["out_biz_no"]),
        provider_trade_no=str(data["trade_no"]),
        status=status,
        amount_fen=int(data["amount_fen"]),
        failure_code=str(data.get("failure_code") or ""),
        reason=str(data.get("reason") or ""),
        retryable=bool(data.get("retryable", False)),
    )


def _payout_notice(data: Any, sent_at: datetime.datetime) -> PayoutNotice:
    return PayoutNotice(notify_id=str(data["notify_id"]), sent_at=sent_at, result=_payout_result(data))


def _face_notification(data: Any, sent_at: datetime.datetime) -> FaceNotification:
    return FaceNotification(
        notify_id=str(data["notify_id"]),
        sent_at=sent_at,
        merchant_ref=str(data["merchant_ref"]),
        session_id=str(data["session_id"]),
        result=data["result"],
        reason=str(data.get("reason") or ""),
        liveness_score=_optional_int(data.get("liveness_score")),
        similarity=_optional_int(data.get("similarity")),
    )


def _ack(data: Any, sent_at: datetime.datetime) -> Ack:
    return Ack(
        notify_id=str(data["notify_id"]),
        sent_at=sent_at,
        policy_number=str(data["policy_number"]),
        insurer_ref=str(data["ref"]),
        status=data["status"],
        reason=str(data.get("reason", "")),
        endorsement_number=str(data.get("endorsement_number") or ""),
        cancellation_id=str(data.get("cancellation_id") or ""),
    )


def _claim_notice(data: Any, sent_at: datetime.datetime) -> ClaimNotice:
    kind = str(data["kind"])
    if kind not in ("received", "decision", "paid"):
        raise ValueError(f"unknown claim notice kind '{kind}'")
    return ClaimNotice(
        notify_id=str(data["notify_id"]),
        sent_at=sent_at,
        kind=kind,  # type: ignore[arg-type]
        claim_number=str(data["claim_number"]),
        insurer_ref=str(data["ref"]),
        decision=str(data.get("decision", "")),
        amount=str(data.get("amount", "")),
        reason_code=str(data.get("reason_code", "")),
        clause=str(data.get("clause", "")),
        note=str(data.get("note", "")),
        payment_ref=str(data.get("payment_ref", "")),
    )


def _optional_int(value: object) -> int | None:
    return None if value is None else int(str(value))


def _base_url() -> str:
    return str(settings.HUIBAO_PUBLIC_URL).rstrip("/")


def _absolute(url: str) -> str:
    """A remote gateway needs the whole address: a path is completed with the public URL."""
    return _base_url() + url if url.startswith("/") else url


class SandboxPaymentProvider:
    """Sandbox gateway: hosted pay page, HMAC-SHA256 signed notifications retried until acknowledged."""

    name = NAME

    def create_checkout(self, record: Payment) -> Checkout:
        txn_id = payment.open_checkout(
            merchant_ref=record.merchant_ref,
            amount_fen=to_fen_int(record.amount),
            notify_url=_base_url() + reverse("payment:notify", args=[self.name]),
            expires_at=record.expires_at,
            # Real-name payment: the payer the order is bound to travels with it.
            bound_name=record.payer_name,
            bound_id_number=record.payer_id_number,
            return_url=_absolute(record.return_url),
        )
        return Checkout(url=_base_url() + reverse("sandbox:pay", args=[txn_id]), provider_txn_id=txn_id)

    def parse_notification(self, headers: Mapping[str, str], body: bytes) -> Notification:
        invalid = InvalidPaymentSignature
        notification = notifications.parse_signed(
            payment.CHANNEL.name, headers, body, build=_payment_notification, invalid=invalid
        )
        if notification.status not in ("success", "failed", "expired"):
            raise invalid(f"unknown notification status '{notification.status}'", code="malformed")
        return notification

    def refund(self, record: Payment, amount: Decimal) -> RefundResult:
        try:
            refund_id = payment.refund(record.provider_txn_id, to_fen_int(amount))
        except SandboxError as exc:
            return RefundResult(ok=False, provider_refund_id="", message=str(exc))
        return RefundResult(ok=True, provider_refund_id=refund_id)

    def query(self, record: Payment) -> str:
        return payment.checkout_status(record.provider_txn_id)

    def create_mandate(self, *, payer_name: str, payer_id_number: str, account_number: str) -> Mandate:
        signed = payment.sign_mandate(
            payer_name=payer_name, id_number=payer_id_number, card_number=account_number
        )
        return Mandate(agreement_id=signed.agreement_id, masked_account=f"**** {signed.card_last4}")

    def revoke_mandate(self, agreement_id: str) -> None:
        payment.revoke_mandate(agreement_id)

    def charge_mandate(self, agreement_id: str, amount: Decimal, out_trade_no: str) -> ChargeAccepted:
        txn_id = payment.charge_mandate(
            agreement_id=agreement_id,
            merchant_ref=out_trade_no,
            amount_fen=to_fen_int(amount),
            notify_url=_base_url() + reverse("payment:notify", args=[self.name]),
        )
        return ChargeAccepted(provider_txn_id=txn_id)

    def charge_mandates(self, charges: Sequence[MandateChargeRequest]) -> list[ChargeAccepted]:
        """`charge_mandate` for a batch, in order (`payment.charge_mandates`: one insert)."""
        txn_ids = payment.charge_mandates(
            [payment.MandateCharge(c.agreement_id, c.out_trade_no, to_fen_int(c.amount)) for c in charges],
            notify_url=_base_url() + reverse("payment:notify", args=[self.name]),
        )
        return [ChargeAccepted(provider_txn_id=txn_id) for txn_id in txn_ids]


class SandboxPayoutProvider:
    """Sandbox payout gateway: takes a transfer at once (or refuses it), tells its result later by
    an HMAC-SHA256 signed notification retried until acknowledged; idempotent on out_biz_no."""

    name = NAME

    def submit_payout(self, request: PayoutRequest) -> PayoutAccepted | PayoutRefused:
        try:
            trade_no = payout.submit(
                out_biz_no=request.out_biz_no,
                amount_fen=request.amount_fen,
                payee_name=request.payee_name,
                account_number=request.account_number,
                notify_url=_base_url() + reverse("payment:payout_notify", args=[self.name]),
            )
        except payout.Refused as exc:
            return PayoutRefused(code=exc.code, reason=exc.reason, retryable=exc.retryable)
        return PayoutAccepted(provider_trade_no=trade_no)

    def parse_payout_notification(self, headers: Mapping[str, str], body: bytes) -> PayoutNotice:
        notice = notifications.parse_signed(
            payout.CHANNEL.name, headers, body, build=_payout_notice, invalid=InvalidPaymentSignature
        )
        if notice.result.status == "processing":
            raise InvalidPaymentSignature("a result notification cannot be 'processing'", code="malformed")
        return notice

    def query_payout(self, record: Payout) -> PayoutResult:
        row = payout.by_out_biz_no(record.out_biz_no)
        if row is None:
            return PayoutResult(out_biz_no=record.out_biz_no, provider_trade_no="", status="processing")
        reported = payout.reported(row)
        status: PayoutResultStatus = (
            "success" if reported == "success" else "failed" if reported == "failed" else "processing"
        )
        return PayoutResult(
            out_biz_no=row.out_biz_no,
            provider_trade_no=row.trade_no,
            status=status,
            amount_fen=row.amount_fen,
            failure_code=row.failure_code,
            reason=row.reason,
            retryable=row.retryable,
        )


class SandboxIdentityProvider:
    """Sandbox registry: answers by its own table and test rules, and times out on demand."""

    name = NAME

    def verify(self, name: str, id_number: str) -> IdentityAnswer:
        try:
            result, ref = identity.registry_check(name, id_number)
        except identity.SandboxUnavailable as exc:
            raise IdentityProviderUnavailable(str(exc), code="timeout") from exc
        return IdentityAnswer(result=result, provider_ref=ref)


class SandboxFaceCheckProvider:
    """Sandbox face service: hosted page, HMAC-SHA256 signed notifications retried until acknowledged."""

    name = NAME

    def start(self, session: FaceCheck) -> str:
        token = identity.open_session(
            merchant_ref=str(session.public_id),
            name=session.name,
            id_number=session.id_number,
            notify_url=_base_url() + reverse("identity:face_notify", args=[self.name]),
            return_url=session.return_url,
            expires_at=session.expires_at,
        )
        return _base_url() + reverse("sandbox:face", args=[token])

    def parse_notification(self, headers: Mapping[str, str], body: bytes) -> FaceNotification:
        invalid = InvalidFaceSignature
        notification = notifications.parse_signed(
            identity.CHANNEL.name, headers, body, build=_face_notification, invalid=invalid
        )
        if notification.result not in ("passed", "failed", "expired"):
            raise invalid(f"unknown face result '{notification.result}'", code="malformed")
        if notification.result == "failed" and notification.reason not in ("not_live", "not_same_person"):
            raise invalid(f"unknown failure reason '{notification.reason}'", code="malformed")
        return notification


class SandboxInsurer:
    """The sandbox insurer: stores what it receives, acknowledges later by a signed callback."""

    name = NAME

    def _send(self, subject: insurer.Subject, payload: Mapping[str, Any]) -> str:
        callback = public_url(reverse("policy:insurer_ack", args=[self.name]))
        try:
            return insurer.receive(subject, payload, callback_url=callback)
        except insurer.SandboxUnavailable as exc:
            raise DeliveryFailed(str(exc), code=exc.code) from exc

    def send_policy(self, payload: Mapping[str, Any]) -> str:
        return self._send(insurer.POLICY, payload)

    def send_endorsement(self, payload: Mapping[str, Any]) -> str:
        return self._send(insurer.ENDORSEMENT, payload)

    def send_cancellation(self, payload: Mapping[str, Any]) -> str:
        return self._send(insurer.CANCELLATION, payload)

    def parse_ack(self, headers: Mapping[str, str], body: bytes) -> Ack:
        ack = notifications.parse_signed(
            insurer.CHANNEL.name, headers, body, build=_ack, invalid=InvalidAck, noun="acknowledgement"
        )
        if ack.status not in ("accepted", "rejected"):
            raise InvalidAck(f"unknown acknowledgement status '{ack.status}'", code="malformed")
        return ack

    def send_claim(self, payload: Mapping[str, Any], *, callback_url: str) -> str:
        try:
            return insurer_claims.receive_claim(payload, callback_url=callback_url)
        except insurer.SandboxUnavailable as exc:
            raise DeliveryFailed(str(exc), code=exc.code) from exc

    def query_claim(self, claim_number: str, insurer_ref: str) -> str:
        try:
            return insurer_claims.query_claim(claim_number, insurer_ref)
        except insurer.SandboxUnavailable as exc:
            raise DeliveryFailed(str(exc), code=exc.code) from exc

    def parse_claim_notice(self, headers: Mapping[str, str], body: bytes) -> ClaimNotice:
        return notifications.parse_signed(
            insurer_claims.CHANNEL.name,
            headers,
            body,
            build=_claim_notice,
            invalid=InvalidAck,
            noun="claim notice",
        )
