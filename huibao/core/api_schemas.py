"""The API's one error shape as a schema: what every 4xx answer holds (`DomainError.as_dict`).

Endpoints name it in `response={...}` for the error statuses particular to them (409, 429…);
`api_input.document_errors` adds the statuses every operation can answer, and the OpenAPI
document holds it once, as the components `Error` and `FieldError`.
"""

from __future__ import annotations

from typing import Any

from ninja import Field, Schema


class FieldError(Schema):
    field: str = Field(examples=["insured[0].name"])
    code: str = Field(examples=["required"])
    message: str = Field(examples=["insured[0].name：必填"])


class Error(Schema):
    """The one error shape of every 4xx answer: `code` says what went wrong (stable, for
    programs), `message` says it in Chinese, `errors` names each field concerned."""

    code: str = Field(examples=["validation_failed"])
    message: str = Field(examples=["请求参数有误：insured[0].name：必填"])
    errors: list[FieldError]


def errors(*statuses: int) -> dict[int, Any]:
    """`response={200: Out, **errors(404, 409)}`: these statuses answer the one error shape."""
    return dict.fromkeys(statuses, Error)


class ShownPremiumOut(Schema):
    """A premium as the customer pays it (`huibao.core.premium.ShownPremium`): `amount` per
    `period` and, when paid in instalments, the total per year."""

    amount: str = Field(description="the amount per period (the first instalment)", examples=["30.78"])
    period: str | None = Field(
        description="month when paid monthly, first for a bundle mixing monthly and yearly items; null "
        "when paid once or yearly",
        examples=["month"],
    )
    annual_total: str | None = Field(
        description="the total per year when paid in instalments", examples=["369.36"]
    )
