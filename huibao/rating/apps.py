from django.apps import AppConfig


class RatingConfig(AppConfig):
    name = "huibao.rating"
    label = "rating"
