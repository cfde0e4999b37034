from django.urls import path

from huibao.application.web import agent, views

app_name = "application"
urlpatterns = [
    path("", views.mine, name="mine"),
    path("start/", views.start, name="start"),
    path("start/resume/", views.start_resume, name="start_resume"),
    path("bundle/", views.bundle, name="bundle"),
    path("bundle/add/", views.bundle_add, name="bundle_add"),
    path("bundle/remove/", views.bundle_remove, name="bundle_remove"),
    path("invite/<str:token>/", views.invite, name="invite"),
    path("agent/", agent.home, name="agent_home"),
    path("agent/<uuid:public_id>/", agent.edit, name="agent_edit"),
    path("agent/<uuid:public_id>/invite/", agent.send_invitation, name="agent_invite"),
    path("<uuid:public_id>/", views.detail, name="detail"),
    path("<uuid:public_id>/data/", views.data, name="data"),
    path("<uuid:public_id>/identity/", views.identity, name="identity"),
    path("<uuid:public_id>/review/", views.review, name="review"),
    path("<uuid:public_id>/outcome/", views.outcome, name="outcome"),
    path("<uuid:public_id>/terms/", views.terms, name="terms"),
    path("<uuid:public_id>/documents/<int:document_id>/", views.document, name="document"),
    path("<uuid:public_id>/clauses/<int:document_id>/<str:code>/", views.clause, name="clause"),
    path("<uuid:public_id>/face/", views.face, name="face"),
    path("<uuid:public_id>/sign/", views.sign, name="sign"),
    path("<uuid:public_id>/pay/", views.pay, name="pay"),
    path("<uuid:public_id>/done/", views.done, name="done"),
    path("<uuid:public_id>/form.pdf", views.application_form, name="form_pdf"),
    path("<uuid:public_id>/poll/", views.poll, name="poll"),
    path("<uuid:public_id>/cancel/", views.cancel, name="cancel"),
]
