from django.urls import path

from huibao.account import views

app_name = "account"
urlpatterns = [
    path("login/", views.login_page, name="login"),
    path("signup/", views.signup, name="signup"),
    path("logout/", views.logout_page, name="logout"),
    path("password/reset/", views.password_reset, name="password_reset"),
    path("consent/", views.consent_page, name="consent"),
    path("legal/<slug:kind>/", views.legal_document, name="legal"),
    path("me/", views.me, name="me"),
    path("staff/login/", views.staff_login, name="staff_login"),
]
