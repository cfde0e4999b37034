from django.apps import AppConfig


class RatingConfig(AppConfig):
    name = "huibao.rating"
    label = "rating"

    def ready(self) -> None:
        # The catalog asks its prices through its port; the engine above it answers.
        from huibao.catalog.rating_port import register_engine
        from huibao.rating.catalog_adapter import CatalogRating

        register_engine(CatalogRating())
