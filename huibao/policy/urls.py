from django.urls import path

from huibao.policy.web import cancel, endorsements, staff, views

app_name = "policy"

urlpatterns = [
    path("verify/", views.verify_form, name="verify_form"),
    path("verify/huibao-root-ca.cer", views.root_certificate, name="root_certificate"),
    path("verify/<str:code>/", views.verify, name="verify"),
    path("mine/", views.mine, name="mine"),
    path("mine/<uuid:public_id>/", views.detail, name="detail"),
    path("mine/<uuid:public_id>/epolicy.pdf", views.epolicy_pdf, name="epolicy"),
    path("mine/<uuid:public_id>/history/", views.history, name="history"),
    path("mine/<uuid:public_id>/mandate/", views.mandate, name="mandate"),
    path("mine/<uuid:public_id>/premiums/", views.premiums_page, name="premiums"),
    path("mine/<uuid:public_id>/premiums/reinstate/", views.reinstate, name="reinstate"),
    path("mine/<uuid:public_id>/changes/", endorsements.changes, name="endorse"),
    path("mine/<uuid:public_id>/changes/new/<slug:kind>/", endorsements.change_form, name="endorse_form"),
    path("mine/<uuid:public_id>/changes/<str:number>/", endorsements.endorsement, name="endorsement"),
    path(
        "mine/<uuid:public_id>/changes/<str:number>/<slug:action>/",
        endorsements.endorsement_action,
        name="endorsement_action",
    ),
    path(
        "mine/<uuid:public_id>/changes/<str:number>/endorsement.pdf",
        endorsements.endorsement_pdf,
        name="endorsement_pdf",
    ),
    path("staff/endorsements/", endorsements.approvals, name="endorsement_approvals"),
    path("mine/<uuid:public_id>/cancel/", cancel.cancel, name="cancel"),
    path("nps/<uuid:public_id>/", views.nps, name="nps"),
    path("staff/servicing/", staff.servicing, name="staff_servicing"),
    path("staff/servicing/messages/<uuid:public_id>/resend/", staff.resend, name="staff_resend"),
    path("staff/servicing/deliveries/<int:pk>/retry/", staff.retry_delivery, name="staff_retry_delivery"),
    path(
        "staff/servicing/cancellations/<uuid:public_id>/retry/",
        cancel.staff_retry,
        name="staff_cancellation_retry",
    ),
    path(
        "staff/servicing/reinstatements/<uuid:public_id>/<slug:action>/",
        staff.decide_reinstatement,
        name="staff_reinstatement_decide",
    ),
    path("insurer/ack/<slug:connector>/", views.insurer_ack, name="insurer_ack"),
]
