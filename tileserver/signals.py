"""Keeping the published services in step with the registry: regenerate the configuration when layers are
added, restyled or removed, or when a layer's data outgrows the extent the configuration advertises (MapProxy
requests nothing outside it, so new features there would not be drawn); remove cached tiles covering changed
features.

Only acts on a configuration generated for the current database (see generate.generated_for_this_database),
so another database's process (a test run) never touches the served files.
"""

from __future__ import annotations

import logging

from django.db import transaction
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from layers.models import Layer
from layers.signals import layer_changed

from . import cache
from .generate import generate_all, generated_coverage, generated_for_this_database
from .specs import contains

log = logging.getLogger(__name__)


def outgrown(layer: Layer, changed: tuple[float, float, float, float] | None = None) -> bool:
    """True when `layer`'s data extent (as last refreshed) or the box of its `changed` features is no longer
    inside the coverage the configuration was generated with."""
    covered = generated_coverage(layer.name)
    if covered is None:  # not in the configuration (yet): the post_save regeneration publishes it
        return False
    return any(box is not None and not contains(covered, box) for box in (layer.bbox, changed))


@receiver(layer_changed)
def on_layer_changed(sender, layer: Layer, what: str, bbox=None, **kwargs) -> None:
    # Registration, restyling and removal always save or delete the Layer row: the post_save/post_delete
    # receiver below regenerates for those. Here: the extent (refreshed after the save) and features.
    if not generated_for_this_database():
        return
    if outgrown(layer, tuple(bbox) if bbox else None):
        log.info("tileserver: %s outgrew its advertised extent, configuration regenerated", layer.name)
        generate_all()
    if what != "features":
        return
    n = cache.invalidate(layer.name, tuple(bbox) if bbox else None)
    log.info("tileserver: %s changed in %s, %s cached tiles removed", layer.name, bbox, n)


@receiver(post_save, sender=Layer)
@receiver(post_delete, sender=Layer)
def on_layer_saved(sender, instance: Layer, **kwargs) -> None:
    def after_commit() -> None:
        from .freshness import registry_fingerprint, stored_fingerprint
        from .paths import config_paths

        if not generated_for_this_database():
            return
        # A transaction that saved the layer twice (an import creating it, then completing it) runs this twice
        # after the same commit: the first regenerates and stores the registry's fingerprint, the second finds
        # the configuration current. Every save moves updated_at, so a real change always differs.
        if stored_fingerprint(config_paths()) != registry_fingerprint():
            generate_all()
        if kwargs.get("created") is not True:
            cache.invalidate(instance.name)  # an updated (restyled, reclassified) or deleted layer: tiles stale

    transaction.on_commit(after_commit)
