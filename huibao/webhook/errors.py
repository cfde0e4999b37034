from __future__ import annotations

from huibao.core.errors import NotFound, ValidationFailed


class EndpointNotFound(NotFound):
    code = "webhook_endpoint_not_found"


class DeliveryNotFound(NotFound):
    code = "webhook_delivery_not_found"


class InvalidEndpoint(ValidationFailed):
    code = "invalid_webhook_endpoint"
