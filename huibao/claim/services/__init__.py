"""The claim's use-cases, one module per step of the customer's journey: `report` (first notice
of loss), `materials` (upload, remove), `progress` (submit, withdraw)."""

from huibao.claim.services.materials import remove_material, upload_material
from huibao.claim.services.progress import submit_claim, withdraw_claim
from huibao.claim.services.report import ReportInput, report_claim

__all__ = [
    "ReportInput",
    "remove_material",
    "report_claim",
    "submit_claim",
    "upload_material",
    "withdraw_claim",
]
