from django.urls import path

from huibao.payment.web import views

app_name = "payment"

urlpatterns = [
    path("notify/<slug:provider>/", views.notify, name="notify"),
    path("alipay/checkout/<uuid:public_id>/", views.alipay_checkout, name="alipay_checkout"),
    path("wechatpay/checkout/<uuid:public_id>/", views.wechatpay_checkout, name="wechatpay_checkout"),
    path("payouts/notify/<slug:provider>/", views.payout_notify, name="payout_notify"),
]
