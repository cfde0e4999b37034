from django.urls import path

from huibao.fraud.web import views

app_name = "fraud"

urlpatterns = [
    path("", views.queue, name="queue"),
    path("cases/<uuid:public_id>/", views.case, name="case"),
    path("cases/<uuid:public_id>/<slug:action>/", views.case_action, name="case_action"),
    path("rules/", views.rules_page, name="rules"),
    path("blacklist/", views.blacklist, name="blacklist"),
    path("blacklist/<uuid:public_id>/remove/", views.blacklist_remove, name="blacklist_remove"),
]
