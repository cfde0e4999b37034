"""The sandboxes' hosted pages, at the addresses they had under the domain apps' prefixes."""

from django.urls import path

from huibao.sandbox import views

app_name = "sandbox"

urlpatterns = [
    path("payment/sandbox/pay/<slug:txn_id>/", views.pay, name="pay"),
    path("identity/sandbox/face/<slug:token>/", views.face, name="face"),
    path("sandbox/sms/", views.sms_inbox, name="sms_inbox"),
    path("sandbox/partner-webhooks/<slug:code>/", views.partner_webhooks_view, name="partner_webhooks"),
    path(
        "sandbox/partner-webhooks/<slug:code>/fail/",
        views.partner_webhooks_fail,
        name="partner_webhooks_fail",
    ),
]
