from django.urls import path

from huibao.renewal.web import views

app_name = "renewal"

urlpatterns = [
    path("<uuid:public_id>/", views.offer, name="offer"),
]
