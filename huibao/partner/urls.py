"""Back-office pages of the partner app, under /partners/."""

from django.urls import URLPattern, URLResolver

from huibao.partner.web import views

app_name = "partner"

urlpatterns: list[URLPattern | URLResolver] = [*views.urlpatterns]
