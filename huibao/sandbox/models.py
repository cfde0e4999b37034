"""The sandboxes' own tables: what each remote system keeps on its side.

The platform's code never reads them — only the sandbox modules do. The tables keep the names
they had when the models lived in the domain apps (`db_table`), so a database made before the move
keeps its rows. Each record owing the platform a signed notification is a `SignedNotification`:
the same notification and delivery bookkeeping (`notify_url`, `notify_id`, `notify_body`,
`attempts`, `next_attempt_at`, `acknowledged_at`), which the one delivery mechanism
(`huibao.sandbox.notifications`) reads and writes.
"""

from __future__ import annotations

from django.db import models

from huibao.core.fields import EncryptedTextField


class SignedNotification(models.Model):
    """A sandbox record that owes the platform one signed asynchronous notification: where it
    goes, what it says, and how its delivery went (abstract: each sandbox has its own table)."""

    notify_url = models.CharField(max_length=300)
    notify_id = models.CharField(max_length=64, blank=True)
    notify_body = models.TextField(blank=True)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    acknowledged_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        abstract = True


# --- payment gateway -------------------------------------------------------------------------------
class SandboxCheckoutStatus(models.TextChoices):
    OPEN = "open"
    PAID = "paid"
    FAILED = "failed"
    EXPIRED = "expired"


class SandboxCheckout(SignedNotification):
    """The sandbox gateway's side: one hosted checkout and the notification it owes the merchant."""

    txn_id = models.CharField(max_length=64, unique=True)
    merchant_ref = models.CharField(max_length=40)
    amount_fen = models.PositiveBigIntegerField()
    refunded_fen = models.PositiveBigIntegerField(default=0)
    expires_at = models.DateTimeField()
    status = models.CharField(max_length=20, choices=SandboxCheckoutStatus.choices, default="open")
    reason = models.CharField(max_length=40, blank=True)
    payer_name = models.CharField(max_length=100, blank=True)
    # Encryption contexts are those of the first home: changing one would make the rows unreadable.
    payer_id_number = EncryptedTextField(context="payment.sandbox_payer_id_number", blank=True)
    card_last4 = models.CharField(max_length=4, blank=True)
    # The real-name binding the merchant sent with the order (as Alipay's ext_user_info or WeChat
    # Pay's identity): the cashier pays as this person unless the payer uses another's card.
    bound_name = EncryptedTextField(context="sandbox.checkout.bound_name", blank=True)
    bound_id_number = EncryptedTextField(context="sandbox.checkout.bound_id_number", blank=True)
    # Where the cashier sends the payer back to (the merchant's result page).
    return_url = models.CharField(max_length=300, blank=True)
    # The payer's ID number travels in the body: encrypted here, unlike the other sandboxes'.
    notify_body = EncryptedTextField(context="payment.sandbox_notify_body", blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "payment_sandboxcheckout"

    def __str__(self) -> str:
        return f"{self.txn_id} {self.status}"


class SandboxMandate(models.Model):
    """The sandbox gateway's side of a stored payment authorisation (代扣协议). Its charges are
    `SandboxCheckout` rows (merchant_ref = the charge's out_trade_no), so they are notified
    through the same channel as hosted payments."""

    agreement_id = models.CharField(max_length=64, unique=True)
    payer_name = EncryptedTextField(context="sandbox.mandate.payer_name")
    payer_id_number = EncryptedTextField(context="sandbox.mandate.payer_id_number")
    card_last4 = models.CharField(max_length=4)
    revoked = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"mandate {self.agreement_id}"


# --- real-name registry and face service -------------------------------------------------------------
class SandboxCitizen(models.Model):
    """The sandbox registry: an ID number (by keyed hash) and the name registered for it."""

    id_number_hash = models.CharField(max_length=64, unique=True)
    name = EncryptedTextField(context="identity.sandbox_citizen.name")
    registered_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "identity_sandboxcitizen"

    def __str__(self) -> str:
        return f"citizen {self.pk}"


class SandboxFaceSessionStatus(models.TextChoices):
    OPEN = "open"
    PASSED = "passed"
    FAILED = "failed"
    EXPIRED = "expired"


class SandboxFaceSession(SignedNotification):
    """The sandbox face service's side: one hosted session and the notification it owes the platform."""

    token = models.CharField(max_length=64, unique=True)
    merchant_ref = models.CharField(max_length=64)
    name = models.CharField(max_length=30)
    id_number = EncryptedTextField(context="identity.sandbox_face.id_number")
    return_url = models.CharField(max_length=300)
    expires_at = models.DateTimeField()
    status = models.CharField(max_length=20, choices=SandboxFaceSessionStatus.choices, default="open")
    reason = models.CharField(max_length=40, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "identity_sandboxfacesession"

    def __str__(self) -> str:
        return f"{self.token} {self.status}"


# --- insurer ---------------------------------------------------------------------------------------
class SandboxInsurerBooking(SignedNotification):
    """What the sandbox insurer books of something the platform sent it (a policy, or an
    endorsement or a cancellation of one it holds): its reference, the policy and the signed
    acknowledgement it owes the platform (abstract: each kind keeps its table, the payload its
    encryption context and the kind its own key, `SUBJECT_FIELD`)."""

    SUBJECT_FIELD = "policy_number"

    payload: str  # each kind's own field (its own encryption context)
    insurer_code = models.CharField(max_length=32)
    ref = models.CharField(max_length=40, unique=True)
    policy_number = models.CharField(max_length=40)
    received_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        abstract = True

    def __str__(self) -> str:
        return f"{self.insurer_code} {getattr(self, self.SUBJECT_FIELD)} → {self.ref}"


class SandboxInsurerPolicy(SandboxInsurerBooking):
    """The sandbox insurer's side (what an insurer's core system keeps): one received policy and
    the signed acknowledgement it owes the platform."""

    payload = EncryptedTextField(context="policy.sandbox_insurer_payload")
    # The address the acknowledgement goes to (the platform's callback URL): the column keeps
    # its first name.
    notify_url = models.CharField(max_length=300, db_column="callback_url")

    class Meta:
        db_table = "policy_sandboxinsurerpolicy"
        constraints = [
            models.UniqueConstraint(
                fields=["insurer_code", "policy_number"], name="sandbox_insurer_policy_unique"
            )
        ]


class SandboxInsurerEndorsement(SandboxInsurerBooking):
    """The sandbox insurer's side of an endorsement (批改) the platform sent: booked against a
    policy it holds, and the signed acknowledgement it owes the platform (channel
    "insurer_endorsement", to the same callback as the policies')."""

    SUBJECT_FIELD = "endorsement_number"

    endorsement_number = models.CharField(max_length=48)
    payload = EncryptedTextField(context="sandbox.insurer_endorsement_payload")

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["insurer_code", "endorsement_number"], name="sandbox_insurer_endorsement_unique"
            )
        ]


class SandboxInsurerCancellation(SandboxInsurerBooking):
    """The sandbox insurer's side of a cancellation (退保) the platform sent: booked against a
    policy it holds, and the signed acknowledgement it owes the platform (channel
    "insurer_cancellation", to the same callback as the policies')."""

    SUBJECT_FIELD = "cancellation_id"

    cancellation_id = models.CharField(max_length=40)
    payload = EncryptedTextField(context="sandbox.insurer_cancellation_payload")

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["insurer_code", "cancellation_id"], name="sandbox_insurer_cancellation_unique"
            )
        ]


class SandboxInsurerOutage(models.Model):
    """Sandbox insurers marked down: every policy sent to them fails until marked up again."""

    insurer_code = models.CharField(max_length=32, unique=True)
    reason = models.CharField(max_length=100, blank=True)
    since = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "policy_sandboxinsureroutage"

    def __str__(self) -> str:
        return f"{self.insurer_code} down"


class SandboxInsurerClaim(models.Model):
    """The sandbox insurer's claims system: one claim received from the platform, the outcome it
    decided for it (told later, by the notices below) and the full payload (encrypted: it holds
    health facts and, when the insurer pays, the bank account)."""

    insurer_code = models.CharField(max_length=32)
    ref = models.CharField(max_length=40, unique=True)
    claim_number = models.CharField(max_length=20)
    payload = EncryptedTextField(context="sandbox.insurer_claim_payload")
    notify_url = models.CharField(max_length=300)
    outcome = models.CharField(max_length=8)  # approve | partial | deny
    amount = models.CharField(max_length=20, blank=True)
    insurer_pays = models.BooleanField(default=False)
    received_at = models.DateTimeField(auto_now_add=True)
    queries = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["insurer_code", "claim_number"], name="sandbox_insurer_claim_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.insurer_code} {self.claim_number} → {self.ref}"


class SandboxInsurerClaimNotice(SignedNotification):
    """One notice the sandbox insurer owes the platform about a claim (received, decision, paid)."""

    claim = models.ForeignKey(SandboxInsurerClaim, on_delete=models.CASCADE, related_name="notices")
    kind = models.CharField(max_length=16)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["notify_id"], name="sandbox_insurer_claim_notice_id")]

    def __str__(self) -> str:
        return f"{self.claim_id} {self.kind}"


# --- SMS gateway -----------------------------------------------------------------------------------
class SandboxSms(models.Model):
    """The sandbox SMS gateway's inbox: each text it "sent", for the people testing a deployment
    without a terminal (`/sandbox/sms/`, staff only). The number is kept as its keyed hash and
    masked; the text (a log-in code) encrypted, read in clear only by that page."""

    phone_hash = models.CharField(max_length=64)
    phone_masked = models.CharField(max_length=20)
    text = EncryptedTextField(context="sandbox.sms.text")
    receipt_id = models.CharField(max_length=64, unique=True)
    sent_at = models.DateTimeField()

    class Meta:
        indexes = [models.Index(fields=["phone_hash", "-sent_at"]), models.Index(fields=["-sent_at"])]

    def __str__(self) -> str:
        return f"SMS to {self.phone_masked} at {self.sent_at:%Y-%m-%d %H:%M:%S}"


# --- payout gateway (企业付款 / 单笔转账) --------------------------------------------------------
class SandboxPayoutStatus(models.TextChoices):
    PROCESSING = "processing"
    SUCCESS = "success"
    FAILED = "failed"


class SandboxPayout(SignedNotification):
    """The sandbox payout gateway's side: one transfer (by the merchant's `out_biz_no`, on which
    it is idempotent) and the result notification it owes the merchant."""

    trade_no = models.CharField(max_length=64, unique=True)
    out_biz_no = models.CharField(max_length=40, unique=True)
    amount_fen = models.PositiveBigIntegerField()
    payee_name = models.CharField(max_length=100)
    account_number = EncryptedTextField(context="sandbox.payout.account_number")
    account_hash = models.CharField(max_length=64, db_index=True)
    status = models.CharField(max_length=20, choices=SandboxPayoutStatus.choices, default="processing")
    failure_code = models.CharField(max_length=40, blank=True)
    reason = models.CharField(max_length=100, blank=True)
    retryable = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"{self.trade_no} {self.status}"


# --- flight-status feed ----------------------------------------------------------------------------
class SandboxFlightEvent(SignedNotification):
    """The sandbox flight-status feed's side: one status event of one flight and the signed
    delivery it owes the platform (a new nonce on every attempt; the event id stays)."""

    event_id = models.CharField(max_length=64, unique=True)
    flight_number = models.CharField(max_length=8)
    flight_date = models.DateField()
    status = models.CharField(max_length=12)
    delay_minutes = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"{self.event_id} {self.flight_number} {self.flight_date} {self.status}"


# --- a partner's webhook receiver ------------------------------------------------------------------
class SandboxPartnerReceiver(models.Model):
    """A sandbox partner's webhook receiver (`/sandbox/partner-webhooks/<code>/`): how many of the
    next deliveries it answers with a 500, to show the platform's retries."""

    code = models.CharField(max_length=64, unique=True)
    fail_next = models.PositiveIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"receiver {self.code} (fail next {self.fail_next})"


class SandboxPartnerWebhook(models.Model):
    """One request the sandbox partner received: whether its signature held, what it answered.
    The body can name a policyholder: encrypted, shown only on the staff page."""

    code = models.CharField(max_length=64)
    webhook_id = models.CharField(max_length=64, blank=True)
    event_type = models.CharField(max_length=64, blank=True)
    timestamp = models.CharField(max_length=20, blank=True)
    verified = models.BooleanField(default=False)
    problem = models.CharField(max_length=40, blank=True)
    duplicate = models.BooleanField(default=False)
    answered = models.PositiveSmallIntegerField()
    body = EncryptedTextField(blank=True, default="", context="sandbox.partner_webhook.body")
    received_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["code", "-received_at"]), models.Index(fields=["code", "webhook_id"])]

    def __str__(self) -> str:
        return f"{self.code} {self.webhook_id} → {self.answered}"
