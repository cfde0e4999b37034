from django.urls import path

from huibao.claim.web import events_views, views

app_name = "claim"

urlpatterns = [
    path("", views.mine, name="mine"),
    path("report/<uuid:public_id>/", views.report, name="report"),
    path("report/<uuid:public_id>/check/", views.check, name="check"),
    path("<uuid:public_id>/", views.detail, name="detail"),
    path("auto/", events_views.auto_list, name="auto_list"),
    path("auto/<uuid:public_id>/", events_views.auto_claim, name="auto_claim"),
    path("events/import/", events_views.import_events, name="import_events"),
]
