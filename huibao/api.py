"""The JSON API: `/api/v1/...`, OpenAPI docs at `/api/docs`.

Each domain app contributes a router from its `api` module; domain errors are mapped to responses
here, in one place.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.http import HttpRequest, HttpResponse
from ninja import NinjaAPI
from ninja.errors import ValidationError as SchemaValidationError

from huibao.core import api_input
from huibao.core.errors import DomainError, FieldError, ValidationFailed


class HuibaoAPI(NinjaAPI):
    """Documents, beside the session cookie, the bearer tokens that `BearerTokenMiddleware`
    accepts on every endpoint that needs a log-in (the endpoints themselves check `django_auth`)."""

    def get_openapi_schema(self, *, path_prefix: str | None = None, path_params: Any = None) -> Any:
        schema = super().get_openapi_schema(path_prefix=path_prefix, path_params=path_params)
        components = schema.setdefault("components", {})
        schemes = components.setdefault("securitySchemes", {})
        # The session's schemes (a partner's signature is no session: it takes no bearer token).
        cookie_schemes = {name for name, scheme in schemes.items() if scheme.get("in") == "cookie"}
        schemes["bearerToken"] = {
            "type": "http",
            "scheme": "bearer",
            "description": "an API token from POST /api/v1/auth/tokens (`hb_…`); no CSRF header needed",
        }
        for operations in schema.get("paths", {}).values():
            for operation in operations.values():
                security = operation.get("security") if isinstance(operation, dict) else None
                if security and any(set(s) & cookie_schemes for s in security):
                    security.append({"bearerToken": []})
        return api_input.document_errors(schema, self)


api = HuibaoAPI(
    title="Huibao API",
    version="1",
    description=(
        "汇保 internet insurance platform: catalog, rating, quotes, applications, payments and policies."
        " All amounts are CNY strings."
    ),
    docs_url="/docs",
    openapi_url="/openapi.json",
    urls_namespace="api",
)
# Hostile and malformed input, for every operation: one parser, one integer guard, and handlers
# that answer ninja's and Django's own errors in the one error shape.
api_input.install(api)


@api.exception_handler(DomainError)
def domain_error(request: HttpRequest, exc: DomainError) -> HttpResponse:
    response = api.create_response(request, exc.as_dict(), status=exc.http_status)
    retry_after = getattr(exc, "retry_after", None)  # a throttle says when to come back
    if retry_after:
        response["Retry-After"] = str(int(retry_after))
    return response


_PARAM_SOURCES = frozenset({"body", "query", "path", "header", "cookie", "form", "file"})


def schema_field_path(loc: Sequence[Any]) -> str:
    """ninja's error location as the API names fields: `("body", "payload", "insured", 0, "name")`
    → `insured[0].name`. The source is dropped, and for a body its parameter name too."""
    parts = list(loc)
    source = parts.pop(0) if parts and parts[0] in _PARAM_SOURCES else None
    if source in ("body", "form", "file") and len(parts) > 1:
        parts.pop(0)
    path = ""
    for part in parts:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += f".{part}" if path else str(part)
    return path or str(source or "body")


def _schema_message(error: dict[str, Any]) -> str:
    kind = str(error.get("type", ""))
    ctx = error.get("ctx") or {}
    texts = {
        "missing": "必填",
        "string_type": "须为文本",
        "string_too_long": f"最多{ctx.get('max_length')}个字符",
        "string_too_short": f"至少{ctx.get('min_length')}个字符",
        "too_long": f"最多{ctx.get('max_length')}项",
        "int_type": "须为整数",
        "int_parsing": "须为整数",
        "bool_type": "须为 true 或 false",
        "bool_parsing": "须为 true 或 false",
        "list_type": "须为列表",
        "dict_type": "须为对象",
        "model_type": "须为对象",
        "uuid_parsing": "编号格式错误",
        "greater_than_equal": f"不能小于{ctx.get('ge')}",
        "less_than_equal": f"不能大于{ctx.get('le')}",
        "greater_than": f"须大于{ctx.get('gt')}",
        "less_than": f"须小于{ctx.get('lt')}",
    }
    return texts.get(kind, "格式或取值无效")


@api.exception_handler(SchemaValidationError)
def schema_error(request: HttpRequest, exc: SchemaValidationError) -> HttpResponse:
    """Input that does not fit the schema: 422 in the one error shape, each error naming its field."""
    errors = []
    for error in exc.errors:
        field = schema_field_path(error.get("loc") or ())
        kind = str(error.get("type") or "invalid")
        code = "required" if kind == "missing" else kind
        errors.append(FieldError(field, code, f"{field}：{_schema_message(error)}"))
    failure = ValidationFailed("请求参数有误：" + "；".join(e.message for e in errors), errors=errors)
    return api.create_response(request, failure.as_dict(), status=failure.http_status)


def register_routers() -> None:
    """Routers are added here, one per domain app, under /api/v1/."""
    from huibao.account.api import router as auth_router
    from huibao.application.api.router import router as application_router
    from huibao.catalog.api import router as catalog_router
    from huibao.claim.api import router as claim_router
    from huibao.claim.desk_api import router as claim_desk_router
    from huibao.claim.events_api import router as events_router
    from huibao.claim.figures_api import router as claim_figures_router
    from huibao.claim.insurer_api import router as claim_insurer_router
    from huibao.core.evidence_api import router as evidence_router
    from huibao.distribution.api import router as distribution_router
    from huibao.finance.commission_api import router as commission_router
    from huibao.finance.reconciliation_api import router as reconciliation_router
    from huibao.finance.settlement_api import router as settlement_router
    from huibao.fraud.api import router as fraud_router
    from huibao.notification.api import router as notification_router
    from huibao.partner.api.router import router as partner_router
    from huibao.payment.api import router as payment_router
    from huibao.policy.api import router as policy_router
    from huibao.policy.cancel_api import router as cancellation_router
    from huibao.policy.endorsement_api import router as endorsement_router
    from huibao.provider.api import router as provider_router
    from huibao.rating.api import router as rating_router
    from huibao.renewal.api import router as renewal_router
    from huibao.report.sales_api import router as report_sales_router

    api.add_router("/v1/", auth_router)
    api.add_router("/v1/", catalog_router)
    api.add_router("/v1/", rating_router)
    api.add_router("/v1/", application_router)
    api.add_router("/v1/", payment_router)
    api.add_router("/v1/", policy_router)
    api.add_router("/v1/", endorsement_router)
    api.add_router("/v1/", cancellation_router)
    api.add_router("/v1/", notification_router)
    api.add_router("/v1/", renewal_router)
    api.add_router("/v1/", claim_desk_router)
    api.add_router("/v1/", claim_router)
    api.add_router("/v1/", claim_insurer_router)
    api.add_router("/v1/", claim_figures_router)
    api.add_router("/v1/", fraud_router)
    api.add_router("/v1/", provider_router)
    api.add_router("/v1/", events_router)
    api.add_router("/v1/", settlement_router)
    api.add_router("/v1/", report_sales_router)
    api.add_router("/v1/", distribution_router)
    api.add_router("/v1/", reconciliation_router)
    api.add_router("/v1/", commission_router)
    api.add_router("/v1/", evidence_router)
    # The partner API: signed requests (huibao.partner.signing), docs/partner-api.md.
    api.add_router("/partner/v1/", partner_router)


register_routers()
