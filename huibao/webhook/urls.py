"""Back-office pages of webhooks, under /webhooks/."""

from django.urls import URLPattern, path

from huibao.webhook.web import views

app_name = "webhook"

urlpatterns: list[URLPattern] = [
    path("", views.endpoints, name="endpoints"),
    path("endpoints/<uuid:public_id>/", views.endpoint, name="endpoint"),
    path("endpoints/<uuid:public_id>/rotate/", views.rotate_secret, name="rotate_secret"),
    path("endpoints/<uuid:public_id>/deactivate/", views.deactivate, name="deactivate"),
    path("endpoints/<uuid:public_id>/ping/", views.ping, name="ping"),
    path("deliveries/", views.deliveries, name="deliveries"),
    path("deliveries/resend-dead/", views.resend_dead, name="resend_dead"),
    path("deliveries/<uuid:public_id>/", views.delivery, name="delivery"),
    path("deliveries/<uuid:public_id>/resend/", views.resend, name="resend"),
]
