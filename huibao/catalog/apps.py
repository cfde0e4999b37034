from django.apps import AppConfig


class CatalogConfig(AppConfig):
    name = "huibao.catalog"
    label = "catalog"
