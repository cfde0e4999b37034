from django.apps import AppConfig


class UnderwritingConfig(AppConfig):
    name = "huibao.underwriting"
    label = "underwriting"
    verbose_name = "核保"

    def ready(self) -> None:
        # The catalog checks a version's `underwriting` document on import and publication with ours.
        from huibao.catalog.io import rules_checks
        from huibao.underwriting.rules import validate_rules

        rules_checks.register(
            lambda version: validate_rules(
                version.get("underwriting") or {}, eligibility=version.get("eligibility") or {}
            )
        )
