"""Shapes of the partner API (`/api/partner/v1/`). Amounts are CNY strings; names are masked."""

from __future__ import annotations

import datetime

from ninja import Field, Schema


class PolicyOut(Schema):
    number: str = Field(description="保单号")
    status: str
    product_code: str
    product_name: str
    plan_code: str
    insurer_code: str
    seller_code: str | None = Field(description="出单渠道/代理人代码")
    holder_name: str = Field(description="投保人姓名（脱敏）")
    insured_name: str = Field(description="被保险人姓名（脱敏）")
    premium: str = Field(description="保费（元）", examples=["1.50"])
    sum_insured: str | None
    effective_at: datetime.datetime
    expires_at: datetime.datetime | None
    issued_at: datetime.datetime
    application_number: str


class PolicyPageOut(Schema):
    items: list[PolicyOut]
    next_cursor: int | None = Field(description="下一页的 after 参数；null 表示最后一页")


class StatusChangeOut(Schema):
    from_status: str
    to_status: str
    reason: str
    at: datetime.datetime


class TriggeredPayoutOut(Schema):
    id: str = Field(description="自动赔付编号")
    policy_number: str
    event: str = Field(description="触发该赔付的事件编号（public id）")
    event_id: str = Field(description="事件来源给出的事件编号")
    source: str
    amount: str
    status: str
    line: str
    created_at: datetime.datetime


class PolicyEventsOut(Schema):
    status_changes: list[StatusChangeOut]
    payouts: list[TriggeredPayoutOut]


class StatementOut(Schema):
    number: str
    party_kind: str
    party_name: str
    period_key: str
    period_start: datetime.date
    period_end: datetime.date
    due_on: datetime.date
    status: str
    premium_total: str
    commission_total: str
    net_amount: str
    line_count: int


class EventIn(Schema):
    kind: str = Field(description="flight | return | screen", examples=["flight"])
    event_id: str = Field(description="事件来源内唯一的事件编号", examples=["EV20261203-0001"])
    flight_number: str | None = Field(default=None, examples=["MU5101"])
    flight_date: str | None = Field(default=None, description="计划起飞日期 YYYY-MM-DD")
    status: str | None = Field(default=None, description="delayed | cancelled | on_time")
    delay_minutes: int | None = Field(default=None, ge=0)
    order_number: str | None = Field(default=None, description="退货事件的订单号")
    returned_at: str | None = Field(default=None, description="退货完成时间，带时区的 ISO 8601")
    imei: str | None = Field(default=None, description="碎屏维修事件：手机 IMEI（15 位数字）")
    repaired_at: str | None = Field(default=None, description="维修完成时间，带时区的 ISO 8601")
    repair_amount: str | None = Field(default=None, description="维修费用（元）", examples=["899.00"])


class EventOut(Schema):
    id: str = Field(description="事件的平台编号（public id）")
    event_id: str
    kind: str
    duplicate: bool = Field(description="true：该事件编号已收到过，未重复赔付")
    policies: int = Field(description="该航班/订单上的保单数")
    payouts_made: int = Field(description="该事件发起的自动赔付笔数")
    note: str
    received_at: datetime.datetime
    payouts: list[TriggeredPayoutOut] = Field(description="其中本合作方自己的保单的赔付")


class DeliveryOut(Schema):
    """One webhook delivery to the partner (`webhook.presenters.delivery_view`)."""

    id: str
    webhook_id: str
    event_type: str
    ref: str
    url: str
    status: str
    attempts: int
    next_attempt_at: str | None
    last_status_code: int | None
    last_error: str
    delivered_at: str | None
    created_at: str


class DeliveryPageOut(Schema):
    items: list[DeliveryOut]
    next_cursor: int | None = Field(description="下一页的 before 参数；null 表示最后一页")
