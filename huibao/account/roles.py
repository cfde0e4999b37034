"""Staff roles: each is a Django group whose permissions are declared here, in one table.

`manage.py setup_roles` (also run after every `migrate`) makes the groups match this table
exactly. An entry is either `app_label.codename` or a pattern with `*` (`catalog.view_*`,
`*.view_*`, `*`), or an exclusion `!pattern` applied after all the others (`!sandbox.*`: the
auditor reads every record but not the sandbox's, whose SMS inbox holds one-time codes). A named
permission that does not exist yet (its app is not built) is skipped and reported, so the table
can name tomorrow's models today.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable
from dataclasses import dataclass

CATALOG_MODELS = ("insurer", "product", "productversion", "plan", "coverage", "document", "crowd", "scenario")


def _perms(app: str, actions: Iterable[str], models: Iterable[str]) -> tuple[str, ...]:
    models = tuple(models)
    return tuple(f"{app}.{action}_{model}" for action in actions for model in models)


CATALOG_VIEW = _perms("catalog", ["view"], CATALOG_MODELS)
CATALOG_EDIT = _perms("catalog", ["add", "change", "view"], CATALOG_MODELS)
QUOTE_VIEW = ("rating.view_quote",)
APPLICATION_VIEW = ("application.view_application", "application.view_applicationitem")
POLICY_VIEW = ("policy.view_policy", "policy.view_insurerdelivery", "policy.view_npsresponse")
PAYMENT_VIEW = ("payment.view_payment", "payment.view_refund", "payment.view_providernotification")
# Payouts to customers and the provider's result notifications; change = retry a failed one by hand.
PAYOUT_VIEW = ("payment.view_payout", "payment.view_payoutattempt", "payment.view_payoutnotification")
IDENTITY_VIEW = ("identity.view_identitycheck", "identity.view_facecheck")
# Webhooks to partners: endpoints (with their secrets) and re-sends of deliveries.
WEBHOOK_MANAGE = (
    *_perms("webhook", ["view"], ("webhookendpoint", "webhookevent", "webhookdelivery", "webhookattempt")),
    *_perms("webhook", ["add", "change"], ("webhookendpoint",)),
    "webhook.change_webhookdelivery",
)
# Failed and given-up e-mails/SMS, and their re-send (the outbox's back office).
NOTIFICATION_RESEND = ("notification.view_outboxmessage", "notification.change_outboxmessage")
CLAIM_MODELS = ("claim", "claimstatuschange", "claimmaterial")
CLAIM_VIEW = _perms("claim", ["view"], CLAIM_MODELS)
# The insurers' side of claims: deliveries, notices, chases and overdue flags (read by claims
# staff); the per-insurer settings (who decides, promised days, who pays) changed by operators.
INSURER_CLAIM_VIEW = _perms(
    "claim",
    ["view"],
    ("insurerclaimsettings", "insurerclaimdelivery", "insurerclaimnotice", "claimchase", "claimoverdue"),
)
INSURER_CLAIM_SETTINGS = ("claim.view_insurerclaimsettings", "claim.change_insurerclaimsettings")
# Event-triggered payouts: adjusters see events and their payouts and import event files.
TRIGGER_VIEW = _perms("claim", ["view"], ["triggerevent", "triggeredpayout", "triggerindex"])
# Adjusters also read the triage (the fraud route and why the fast track did not decide);
# customer service does not.
CLAIM_HANDLE = (
    *CLAIM_VIEW,
    "claim.change_claim",
    *TRIGGER_VIEW,
    "claim.add_triggerevent",
    "claim.view_claimtriage",
)
# The claim figures page and endpoint (share decided automatically, time to payment).
CLAIM_FIGURES = ("claim.view_claim_figures",)
FRAUD_MODELS = ("fraudrule", "screenedclaim", "screening", "fraudcase", "fraudhold", "blacklistentry")
# Fraud analysts: the queue, the cases, the rules' parameters and the shared blacklist.
FRAUD = (*_perms("fraud", ["view", "change"], FRAUD_MODELS), "fraud.view_fraudpolicy")
# Fraud analyst leads (风控主管): everything analysts do, and the route thresholds — a lead proposes
# a version, another lead approves it (four eyes: huibao.fraud.thresholds).
FRAUD_LEAD = (*FRAUD, "fraud.add_fraudpolicy", "fraud.approve_fraudpolicy")
# The O2O provider network: operators manage providers, adjusters assign tasks, a provider's own
# staff work their tasks (which ones: huibao.provider.selectors, by the user's provider).
PROVIDER_MANAGE = (
    *_perms("provider", ["add", "change", "view"], ["serviceprovider"]),
    "provider.view_servicetask",
    "provider.view_taskevent",
)
PROVIDER_ASSIGN = ("provider.view_serviceprovider", "provider.add_servicetask", "provider.view_servicetask")
# No model permission at all: which tasks a provider's staff see is decided by their provider link
# alone, and a model permission would open the admin's list of every provider's tasks to them.
PROVIDER_WORK: tuple[str, ...] = ()
UNDERWRITING = ("underwriting.view_underwritingcase", "underwriting.change_underwritingcase")
# --- ledger (issue 12): finance reads the books (trial balance, statements, ageing) and reverses a
# transaction (a reversal is a new transaction: add). ---
LEDGER = (
    "finance.view_ledgeraccount",
    "finance.view_journaltransaction",
    "finance.view_journalline",
    "finance.add_journaltransaction",
)
# --- end ledger ---
# --- settlement (issue 12): statements with insurers, channels and agents. Finance generates,
# submits, approves (four eyes above the threshold: huibao.finance.settlement) and marks them
# paid; the auditor reads them through *.view_*. Insurer and channel staff need no permission:
# their membership decides which statements they see (finance.settlement_selectors).
SETTLEMENT = (
    *_perms("finance", ["view", "change"], ["settlementstatement"]),
    "finance.view_settlementline",
    "finance.view_statementstatuschange",
    "finance.approve_settlementstatement",
    "finance.pay_settlementstatement",
)
# Reports (issue 12, item 8): the whole agency's sales reports (agents and channel staff see
# their own subtree without it, by their sales unit).
REPORT_VIEW = ("report.view_sales_report",)
# --- distribution: agreements with insurers and the sales hierarchy ---
DISTRIBUTION_MODELS = (
    "agencyentity",
    "insureragreement",
    "agreementstatuschange",
    "salesunit",
    "salesunitmember",
)
DISTRIBUTION_VIEW = _perms("distribution", ["view"], DISTRIBUTION_MODELS)
DISTRIBUTION_MANAGE = (
    *DISTRIBUTION_VIEW,
    *_perms("distribution", ["add", "change"], ("insureragreement", "salesunit", "salesunitmember")),
)
# Finance reads the agreements (settlement terms), not the hierarchy's staff links.
AGREEMENT_VIEW = (
    "distribution.view_agencyentity",
    "distribution.view_insureragreement",
    "distribution.view_agreementstatuschange",
)
# Reconciliation (对账): finance imports statements, resolves differences and closes months.
RECONCILIATION = _perms(
    "finance",
    ["view", "add", "change"],
    ("reconciliation", "reconciliationitem", "statementline", "statementmapping"),
)
REINSTATEMENT_DECISIONS = (
    "policy.view_policy",
    "policy.view_reinstatementreferral",
    "policy.decide_reinstatement",
)

# --- commission area (finance/commissions.py): finance edits commission plans, operators read them.
COMMISSION_MODELS = ("commissionplan", "commissionplanversion", "commissionrule")
COMMISSION_EDIT = (
    *_perms("finance", ["add", "change", "view"], COMMISSION_MODELS),
    "finance.view_commissionentry",
)
COMMISSION_VIEW = (*_perms("finance", ["view"], COMMISSION_MODELS), "finance.view_commissionentry")
# --- end of commission area
# Partners on the partner API (huibao.partner): operators create partners and their API clients,
# rotate and revoke keys and edit scopes; auditors read them through *.view_*.
PARTNER_MANAGE = (
    "partner.view_partner",
    "partner.view_apiclient",
    "partner.manage_partner",
)


@dataclass(frozen=True, slots=True)
class Role:
    code: str
    label: str  # Chinese display name
    permissions: tuple[str, ...]


ROLES: dict[str, Role] = {
    role.code: role
    for role in (
        Role(
            "operator",
            "运营",
            (
                *CATALOG_EDIT,
                *QUOTE_VIEW,
                *APPLICATION_VIEW,
                *POLICY_VIEW,
                "policy.change_insurerdelivery",
                *NOTIFICATION_RESEND,
                *WEBHOOK_MANAGE,
                *PROVIDER_MANAGE,
                *INSURER_CLAIM_SETTINGS,
                *REPORT_VIEW,
                *DISTRIBUTION_MANAGE,
                *COMMISSION_VIEW,
                *PARTNER_MANAGE,
            ),
        ),
        # Sales agents start applications for customers (/apply/agent/) and see only their own;
        # the customer confirms, signs and pays themself.
        Role("agent", "销售代理", (*CATALOG_VIEW, *QUOTE_VIEW)),
        # Underwriters also decide reinstatements whose health answers were referred, from the
        # servicing queue (/policy/staff/servicing/).
        Role(
            "underwriter",
            "核保",
            (*CATALOG_VIEW, *QUOTE_VIEW, *APPLICATION_VIEW, *UNDERWRITING, *REINSTATEMENT_DECISIONS),
        ),
        Role(
            "claims_adjuster",
            "理赔",
            (
                *CATALOG_VIEW,
                *QUOTE_VIEW,
                *POLICY_VIEW,
                *CLAIM_HANDLE,
                *PROVIDER_ASSIGN,
                *INSURER_CLAIM_VIEW,
                *CLAIM_FIGURES,
            ),
        ),
        # A service provider's staff (公估、救援、法律、医院、维修): their own provider's tasks only.
        Role("provider", "服务商", PROVIDER_WORK),
        Role(
            "fraud_analyst", "风控", (*CATALOG_VIEW, *QUOTE_VIEW, *APPLICATION_VIEW, *IDENTITY_VIEW, *FRAUD)
        ),
        Role(
            "fraud_lead",
            "风控主管",
            (*CATALOG_VIEW, *QUOTE_VIEW, *APPLICATION_VIEW, *IDENTITY_VIEW, *FRAUD_LEAD),
        ),
        Role(
            "finance",
            "财务",
            (
                *CATALOG_VIEW,
                *QUOTE_VIEW,
                *PAYMENT_VIEW,
                "payment.change_payment",
                *PAYOUT_VIEW,
                "payment.change_payout",
                *POLICY_VIEW,
                *CLAIM_FIGURES,
                *LEDGER,
                *SETTLEMENT,
                *REPORT_VIEW,
                *AGREEMENT_VIEW,
                *RECONCILIATION,
                *COMMISSION_EDIT,
            ),
        ),
        Role(
            "customer_service",
            "客服",
            (
                *CATALOG_VIEW,
                *QUOTE_VIEW,
                *APPLICATION_VIEW,
                *POLICY_VIEW,
                *CLAIM_VIEW,
                "payment.view_payment",
                *NOTIFICATION_RESEND,
            ),
        ),
        # Auditors see everything and change nothing; the audit chain is named so a missing
        # core.auditentry shows up in the report.
        Role(
            "auditor",
            "审计",
            ("*.view_*", "core.view_auditentry", "application.replay_application", "!sandbox.*"),
        ),
        # A partner channel's (or a branch's) manager: their own subtree of the hierarchy, which
        # is decided by their SalesUnitMember link, not by a model permission.
        Role("channel_manager", "渠道经理", CATALOG_VIEW),
        Role("admin", "管理员", ("*",)),
    )
}


def role_label(code: str) -> str:
    role = ROLES.get(code)
    return role.label if role else code


@dataclass(frozen=True, slots=True)
class Resolution:
    granted: frozenset[str]
    missing: tuple[str, ...]  # exact names that do not exist (yet)


def resolve_permissions(entries: Iterable[str], available: Iterable[str]) -> Resolution:
    """Expand a role's entries against the permissions that exist (`app_label.codename`)."""
    available_set = set(available)
    granted: set[str] = set()
    missing: list[str] = []
    excluded = [entry[1:] for entry in entries if entry.startswith("!")]
    for entry in entries:
        if entry.startswith("!"):
            continue
        if "*" in entry:
            granted.update(p for p in available_set if fnmatch.fnmatchcase(p, entry))
        elif entry in available_set:
            granted.add(entry)
        else:
            missing.append(entry)
    granted = {p for p in granted if not any(fnmatch.fnmatchcase(p, pattern) for pattern in excluded)}
    return Resolution(granted=frozenset(granted), missing=tuple(missing))
