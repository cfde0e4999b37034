from django.urls import path

from huibao.claim.web import desk, events_views, views

app_name = "claim"

urlpatterns = [
    path("", views.mine, name="mine"),
    path("report/<uuid:public_id>/", views.report, name="report"),
    path("report/<uuid:public_id>/check/", views.check, name="check"),
    path("<uuid:public_id>/", views.detail, name="detail"),
    path("auto/", events_views.auto_list, name="auto_list"),
    path("auto/<uuid:public_id>/", events_views.auto_claim, name="auto_claim"),
    path("events/import/", events_views.import_events, name="import_events"),
    # The adjusters' desk.
    path("desk/", desk.queue, name="desk"),
    path("desk/<uuid:public_id>/", desk.review_page, name="desk_review"),
    path("desk/<uuid:public_id>/<slug:action>/", desk.act, name="desk_act"),
    path("desk/materials/<uuid:public_id>/", desk.material, name="desk_material"),
]
