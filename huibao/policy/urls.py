from django.urls import path

from huibao.policy.web import cancel, views

app_name = "policy"

urlpatterns = [
    path("verify/", views.verify_form, name="verify_form"),
    path("verify/<str:code>/", views.verify, name="verify"),
    path("mine/", views.mine, name="mine"),
    path("mine/<uuid:public_id>/", views.detail, name="detail"),
    path("mine/<uuid:public_id>/epolicy.pdf", views.epolicy_pdf, name="epolicy"),
    path("mine/<uuid:public_id>/cancel/", cancel.cancel, name="cancel"),
    path("nps/<uuid:public_id>/", views.nps, name="nps"),
    path("insurer/ack/<slug:connector>/", views.insurer_ack, name="insurer_ack"),
]
