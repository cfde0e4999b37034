from django.http import HttpRequest

ELDER_MODE_COOKIE = "elder_mode"


def ui_preferences(request: HttpRequest) -> dict[str, object]:
    """Elder mode (larger type, higher contrast, fewer elements) is a cookie the user switches."""
    return {"elder_mode": request.COOKIES.get(ELDER_MODE_COOKIE) == "1"}
