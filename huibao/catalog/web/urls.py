from django.urls import path

from huibao.catalog.web import views

app_name = "catalog"
urlpatterns = [
    path("", views.home, name="home"),
    path("products/", views.product_list, name="product_list"),
    path("products/<slug:code>/", views.product_detail, name="product_detail"),
    path("products/<slug:code>/documents/<slug:kind>/", views.document_detail, name="document"),
    path("products/<slug:code>/quote/", views.quote_page, name="quote"),
    path("products/<slug:code>/quote/preview/", views.quote_preview, name="quote_preview"),
    path("rankings/", views.rankings, name="rankings"),
    path("compare/", views.compare_page, name="compare"),
    path("compare/tray/", views.tray, name="tray"),
    path("compare/tray/add/", views.tray_add, name="tray_add"),
    path("compare/tray/remove/", views.tray_remove, name="tray_remove"),
    path("compare/tray/clear/", views.tray_clear, name="tray_clear"),
    path("preferences/elder-mode/", views.elder_mode, name="elder_mode"),
]
