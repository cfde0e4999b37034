"""`/api/bench/floor/{id}` (bench mode only, never in the public OpenAPI document).

Its own ninja API, mounted by `huibao.urls` only when `HUIBAO_BENCH_FLOOR` is on, with the
application API's authentication (`django_auth`: the session with its CSRF check, or a bearer
token through `BearerTokenMiddleware`, which serves everything under `/api/`).
"""

from __future__ import annotations

import uuid

from django.http import HttpRequest, HttpResponse
from ninja import Field, NinjaAPI, Schema
from ninja.security import django_auth

from huibao.benchmark import services
from huibao.core.errors import DomainError

floor_api = NinjaAPI(
    title="Huibao bench floor",
    version="bench",
    docs_url=None,
    openapi_url=None,
    urls_namespace="bench",
)


class StepIn(Schema):
    step: int = Field(ge=0, le=1000)


class StepOut(Schema):
    id: uuid.UUID
    step: int
    steps_done: int


@floor_api.exception_handler(DomainError)
def domain_error(request: HttpRequest, exc: DomainError) -> HttpResponse:
    return floor_api.create_response(request, exc.as_dict(), status=exc.http_status)


@floor_api.post("/floor/{public_id}", auth=django_auth, response=StepOut)
def floor_step(request: HttpRequest, public_id: uuid.UUID, payload: StepIn) -> StepOut:
    row = services.floor_step(request.user, public_id, payload.step, request=request)
    return StepOut(id=row.public_id, step=row.step, steps_done=row.steps_done)
