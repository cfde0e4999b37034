from django.urls import path

from huibao.notification.web import views

app_name = "notification"
urlpatterns = [
    path("messages/", views.inbox, name="inbox"),
    path("messages/read-all/", views.read_all, name="read_all"),
    path("messages/settings/", views.preferences, name="preferences"),
    path("messages/<uuid:public_id>/read/", views.read_one, name="read"),
]
