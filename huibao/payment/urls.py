from django.urls import path

from huibao.payment.web import views

app_name = "payment"

urlpatterns = [
    path("notify/<slug:provider>/", views.notify, name="notify"),
    path("payouts/notify/<slug:provider>/", views.payout_notify, name="payout_notify"),
]
