from django.urls import path

from huibao.claim.web import figures, views

app_name = "claim"

urlpatterns = [
    path("", views.mine, name="mine"),
    path("report/<uuid:public_id>/", views.report, name="report"),
    path("report/<uuid:public_id>/check/", views.check, name="check"),
    path("<uuid:public_id>/", views.detail, name="detail"),
    path("figures/", figures.page, name="figures"),
]
