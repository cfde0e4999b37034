from django.urls import path

from huibao.policy.web import staff, views

app_name = "policy"

urlpatterns = [
    path("verify/", views.verify_form, name="verify_form"),
    path("verify/<str:code>/", views.verify, name="verify"),
    path("mine/", views.mine, name="mine"),
    path("mine/<uuid:public_id>/", views.detail, name="detail"),
    path("mine/<uuid:public_id>/epolicy.pdf", views.epolicy_pdf, name="epolicy"),
    path("mine/<uuid:public_id>/history/", views.history, name="history"),
    path("mine/<uuid:public_id>/mandate/", views.mandate, name="mandate"),
    path("nps/<uuid:public_id>/", views.nps, name="nps"),
    path("staff/servicing/", staff.servicing, name="staff_servicing"),
    path("staff/servicing/messages/<uuid:public_id>/resend/", staff.resend, name="staff_resend"),
    path("staff/servicing/deliveries/<int:pk>/retry/", staff.retry_delivery, name="staff_retry_delivery"),
    path("insurer/ack/<slug:connector>/", views.insurer_ack, name="insurer_ack"),
]
