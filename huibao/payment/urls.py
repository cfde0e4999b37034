from django.urls import path

from huibao.payment.web import views

app_name = "payment"

urlpatterns = [
    path("notify/<slug:provider>/", views.notify, name="notify"),
]
