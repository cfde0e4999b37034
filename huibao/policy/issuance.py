"""What a policy is issued from: typed values, built by the seller (the application) from its own
rows and passed to `services.issue_policies`. The policy never reads the application: what it
keeps — the parties, the beneficiaries, the item's terms — it copies from here onto its own
tables and into its schedule, in the issuing transaction.

Personal data (ID numbers, phone, e-mail) travels in plaintext inside the process only; the
policy's columns encrypt it at rest, and none of it is logged or audited.
"""

from __future__ import annotations

import datetime
import uuid
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from huibao.policy.states import BeneficiaryMode, Relation

if TYPE_CHECKING:
    from huibao.catalog.models import Plan, ProductVersion


@dataclass(frozen=True, slots=True)
class HolderData:
    """The policyholder (投保人), as signed."""

    name: str
    id_number: str
    id_hash: str
    birth_date: datetime.date | None
    sex: str
    phone: str = ""
    email: str = ""


@dataclass(frozen=True, slots=True)
class InsuredData:
    """An insured person (被保险人), as signed; `relation` is to the holder."""

    name: str
    id_number: str
    id_hash: str
    birth_date: datetime.date | None
    sex: str
    relation: str = Relation.SELF
    occupation: str = ""
    occupation_class: int | None = None
    phone: str = ""

    @classmethod
    def of(cls, person: Any) -> InsuredData:
        """From any record of an insured with these fields (the application's, a policy's party)."""
        return cls(
            name=person.name,
            id_number=person.id_number,
            id_hash=person.id_hash,
            birth_date=person.birth_date,
            sex=person.sex,
            relation=person.relation,
            occupation=person.occupation,
            occupation_class=person.occupation_class,
            phone=person.phone,
        )


@dataclass(frozen=True, slots=True)
class BeneficiaryData:
    """A named beneficiary (指定受益人) of the insured's death benefit."""

    name: str
    id_number: str
    id_hash: str
    relation: str
    order: int
    share_percent: Decimal

    @classmethod
    def of(cls, beneficiary: Any) -> BeneficiaryData:
        """From any record of a named beneficiary with these fields."""
        return cls(
            name=beneficiary.name,
            id_number=beneficiary.id_number,
            id_hash=beneficiary.id_hash,
            relation=beneficiary.relation,
            order=beneficiary.order,
            share_percent=beneficiary.share_percent,
        )


@dataclass(frozen=True, slots=True)
class SubjectValue:
    """A field of the insured subject (vehicle, home…) as the product's rules label it."""

    code: str
    label: str
    value: str


@dataclass(frozen=True, slots=True)
class ItemToIssue:
    """One product for one insured person: one policy.

    `item_id` is the seller's reference of the item (the policy's one-to-one guard against a
    second issuance); `insured` None means the holder is the insured (property lines);
    `beneficiaries` are kept only in the named mode. `effective_at` is when cover starts, by the
    product's rules, for the payment time (aware); `term` the code of the term option the quote
    chose (None: the version's first)."""

    item_id: int | None
    position: int
    product_version: ProductVersion
    plan: Plan
    sum_insured: Decimal | None
    base_premium: Decimal
    premium: Decimal
    loading_percent: Decimal
    payment_mode: str
    term: str | None
    effective_at: datetime.datetime
    exclusions: tuple[str, ...] = ()
    underwriting_outcome: str = ""
    insured: InsuredData | None = None
    beneficiaries: tuple[BeneficiaryData, ...] = ()
    subject: tuple[SubjectValue, ...] = ()
    # The rating quote the premium came from (endorsements re-rate from it); None: unknown.
    quote_id: uuid.UUID | None = None


@dataclass(frozen=True, slots=True)
class IssuanceRequest:
    """Everything the policies of one paid application (or one renewal) are issued from.

    The caller holds the row lock of the application (`application_id`) in the current
    transaction, so two issuances of it run one after the other; items that already have a
    policy are skipped."""

    application_id: int | None
    application_public_id: uuid.UUID | None
    application_number: str
    channel: str
    customer_id: int | None
    holder: HolderData
    beneficiary_mode: str
    items: tuple[ItemToIssue, ...]
    # When the first payment was made, and the payment's merchant reference (billing records the
    # first instalment of a policy paid in instalments as paid by it).
    paid_at: datetime.datetime | None = None
    payment_ref: str = ""
    # A renewal (续保) is issued from the policy it renews (its number), with no application.
    renewed_from_number: str = ""
    # The caller knows the application has no policy yet (it moves to issued in this transaction,
    # under its lock): the policies so far are not read. The one-to-one `Policy.item` still
    # refuses a second policy of an item, should the caller be wrong.
    none_issued: bool = False
    # Who sold it (distribution.SalesUnit id): copied to every policy. A renewal keeps the
    # seller of the policy it renews, whatever this says.
    seller_id: int | None = None

    @property
    def named_beneficiaries(self) -> bool:
        return self.beneficiary_mode == BeneficiaryMode.NAMED
