from django.urls import path

from huibao.identity.web import views

app_name = "identity"

urlpatterns = [
    path("face/notify/<slug:provider>/", views.face_notify, name="face_notify"),
    path("face/<uuid:public_id>/status/", views.face_status, name="face_status"),
]
