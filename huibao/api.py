"""The JSON API: `/api/v1/...`, OpenAPI docs at `/api/docs`.

Each domain app contributes a router from its `api` module; domain errors are mapped to responses
here, in one place.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from ninja import NinjaAPI

from huibao.core.errors import DomainError

api = NinjaAPI(
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


@api.exception_handler(DomainError)
def domain_error(request: HttpRequest, exc: DomainError) -> HttpResponse:
    return api.create_response(request, exc.as_dict(), status=exc.http_status)


def register_routers() -> None:
    """Routers are added here, one per domain app, under /api/v1/."""
    from huibao.application.api import router as application_router
    from huibao.catalog.api import router as catalog_router
    from huibao.payment.api import router as payment_router
    from huibao.policy.api import router as policy_router
    from huibao.rating.api import router as rating_router

    api.add_router("/v1/", catalog_router)
    api.add_router("/v1/", rating_router)
    api.add_router("/v1/", application_router)
    api.add_router("/v1/", payment_router)
    api.add_router("/v1/", policy_router)


register_routers()
