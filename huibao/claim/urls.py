from django.urls import path

from huibao.claim.web import desk, events_views, figures, views
from huibao.claim.web import insurer as insurer_views

app_name = "claim"

urlpatterns = [
    path("", views.mine, name="mine"),
    path("report/<uuid:public_id>/", views.report, name="report"),
    path("report/<uuid:public_id>/check/", views.check, name="check"),
    path("<uuid:public_id>/", views.detail, name="detail"),
    # The insurers' side: the chase board, settings, signed notices and material links.
    path("staff/insurers/", insurer_views.board, name="staff_insurers"),
    path("staff/insurers/settings/", insurer_views.settings_page, name="staff_insurer_settings"),
    path("staff/<uuid:public_id>/chase/", insurer_views.chase, name="staff_chase"),
    path("insurer/notify/<slug:connector>/", insurer_views.insurer_notify, name="insurer_notify"),
    path("insurer/material/<str:token>/", insurer_views.insurer_material, name="insurer_material"),
    path("auto/", events_views.auto_list, name="auto_list"),
    path("auto/<uuid:public_id>/", events_views.auto_claim, name="auto_claim"),
    path("events/import/", events_views.import_events, name="import_events"),
    # The adjusters' desk.
    path("desk/", desk.queue, name="desk"),
    path("desk/<uuid:public_id>/", desk.review_page, name="desk_review"),
    path("desk/<uuid:public_id>/<slug:action>/", desk.act, name="desk_act"),
    path("desk/materials/<uuid:public_id>/", desk.material, name="desk_material"),
    path("figures/", figures.page, name="figures"),
]
