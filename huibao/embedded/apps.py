from django.apps import AppConfig


class EmbeddedConfig(AppConfig):
    """Embedded micro-insurance (嵌入式场景险): scenario policies sold inside a partner
    channel's checkout, one call or a batch at a time (docs/embedded.md)."""

    name = "huibao.embedded"
    label = "embedded"
    verbose_name = "嵌入式销售"
