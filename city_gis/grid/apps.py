from django.apps import AppConfig
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _


class GridConfig(AppConfig):
    name = "city_gis.grid"
    label = "grid"
    verbose_name = _("单元网格")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from city_gis.accounts.layer_owner import register_after_migrate
        from layers.extent import register_city_outline

        from .outline import outside_flags

        register_city_outline(outside_flags)  # edits of any layer stay inside the districts' union

        # The app's own layers exist wherever its tables do (owner: CITYGIS_DOMAIN_LAYER_OWNER).
        post_migrate.connect(register_after_migrate, sender=self, dispatch_uid=f"{self.label}.domain_layers")

    def register_domain_layers(self, owner) -> list[str]:
        """Register (or update) this app's layers owned by `owner` (a Department); returns their names."""
        from .maplayers import register_cell_layer, register_component_layer

        return [register_cell_layer(owner).name, register_component_layer(owner).name]
