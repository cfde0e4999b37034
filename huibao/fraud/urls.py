from django.urls import path

from huibao.fraud.web import views

app_name = "fraud"

urlpatterns = [
    path("", views.queue, name="queue"),
    path("cases/<uuid:public_id>/", views.case, name="case"),
    path("cases/<uuid:public_id>/<slug:action>/", views.case_action, name="case_action"),
    path("rules/", views.rules_page, name="rules"),
    path("thresholds/", views.thresholds_page, name="thresholds"),
    path("thresholds/<int:version>/<slug:action>/", views.threshold_decision, name="threshold_decision"),
    path("holds/", views.holds_page, name="holds"),
    path("holds/<uuid:public_id>/release/", views.hold_release, name="hold_release"),
    path("blacklist/", views.blacklist, name="blacklist"),
    path("blacklist/<uuid:public_id>/remove/", views.blacklist_remove, name="blacklist_remove"),
]
