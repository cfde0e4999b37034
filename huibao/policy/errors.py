"""Policy errors: each carries its code and HTTP status (see huibao.core.errors)."""

from __future__ import annotations

from huibao.core.errors import Conflict, DomainError


class InvalidAck(DomainError):
    """An insurer acknowledgement whose signature, timestamp or shape does not verify."""

    code = "invalid_ack"
    http_status = 400


class DeliveryFailed(Exception):
    """Sending a policy to an insurer failed (timeout, refused, insurer down); worth retrying."""

    def __init__(self, message: str, *, code: str = "delivery_failed") -> None:
        super().__init__(message)
        self.message = message
        self.code = code


class NotCancellable(Conflict):
    """The policy cannot be cancelled now (its status, or the product's rule after cooling-off)."""

    code = "not_cancellable"


class RefundExceedsPaid(Conflict):
    """The refund would be larger than what was paid for the policy and is still refundable."""

    code = "refund_exceeds_paid"
