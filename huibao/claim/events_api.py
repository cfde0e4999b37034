"""`POST /api/v1/events/{source}/{kind}`: a feed's signed event (a flight's status, a return).

The body is one JSON event; the headers carry the signature (`events_intake`). No log-in: the
source's key is the credential. Answers what the event did (or the one error shape: 401 for a
signature that does not verify or is stale, 409 for a replayed nonce or a reused event id with
other content, 422 for an event that names a field wrongly).
"""

from __future__ import annotations

from django.http import HttpRequest
from ninja import Field, Router, Schema

from huibao.claim.events_intake import receive_delivery
from huibao.core.api_schemas import errors

router = Router(tags=["events"])


class EventReceiptOut(Schema):
    event: str = Field(description="事件的平台编号（public id）")
    duplicate: bool = Field(description="true：该来源的此事件编号已收到过，未重复赔付")
    policies: int = Field(description="该航班/订单上的保单数")
    payouts: int = Field(description="本次事件发起的自动赔付笔数")
    note: str = Field(description="未赔付的原因（中文），如延误未达标准")


@router.post(
    "/events/{source}/{kind}",
    response={200: EventReceiptOut, **errors(401, 409, 422)},
    url_name="event_receive",
    summary="Receive a signed event (kind: flight | return | screen)",
    description=(
        "签名：HMAC-SHA256(来源密钥, timestamp + '\\n' + nonce + '\\n' + body)，十六进制；请求头 "
        "Huibao-Event-Timestamp（Unix 秒，5 分钟内有效）、Huibao-Event-Nonce（每次不同）、"
        "Huibao-Event-Signature。flight 事件：event_id、flight_number、flight_date（计划起飞日期）、"
        "status（delayed|cancelled|on_time）、delay_minutes；"
        "return 事件：event_id、order_number、returned_at；"
        "screen 事件（碎屏维修）：event_id、imei、repaired_at、repair_amount。"
    ),
)
def receive(request: HttpRequest, source: str, kind: str) -> EventReceiptOut:
    receipt = receive_delivery(source, kind, request.headers, request.body)
    event = receipt.event
    return EventReceiptOut(
        event=str(event.public_id),
        duplicate=receipt.duplicate,
        policies=event.policies_found,
        payouts=receipt.payouts,
        note=event.note,
    )
