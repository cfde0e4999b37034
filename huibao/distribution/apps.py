from django.apps import AppConfig


class DistributionConfig(AppConfig):
    name = "huibao.distribution"
    label = "distribution"
    verbose_name = "Distribution: insurer agreements, channels and agents"

    def ready(self) -> None:
        # --- distribution: agreements and the sales hierarchy ---
        from django.utils.translation import gettext_lazy as _

        from huibao.catalog.demo import loader
        from huibao.core.backoffice import register_section
        from huibao.distribution import services

        # The demo market's insurers sell under an agreement each; a wipe removes them first.
        loader.market_loaded.register(services.ensure_demo_agreements)
        loader.market_wiping.register(services.forget_all_agreements)
        register_section(
            "distribution.agreements",
            _("合作协议"),
            "distribution:agreements",
            perm="distribution.view_insureragreement",
            order=300,
        )
        register_section(
            "distribution.units",
            _("销售组织"),
            "distribution:units",
            test=services.may_see_hierarchy,
            order=310,
        )
