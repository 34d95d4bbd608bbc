"""Keeping the published services in step with the registry: regenerate the configuration when layers are
added, restyled or removed; remove cached tiles covering changed features.

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
from .generate import generate_all, generated_for_this_database

log = logging.getLogger(__name__)


def regenerate_if_ours() -> bool:
    if not generated_for_this_database():
        return False
    generate_all()
    return True


@receiver(layer_changed)
def on_layer_changed(sender, layer: Layer, what: str, bbox=None, **kwargs) -> None:
    # Registration, restyling and removal always save or delete the Layer row: the post_save/post_delete
    # receiver below regenerates for those, so only feature changes are handled here (no double generation).
    if what != "features" or not generated_for_this_database():
        return
    n = cache.invalidate(layer.name, tuple(bbox) if bbox else None)
    log.info("tileserver: %s changed in %s, %s cached tiles removed", layer.name, bbox, n)


@receiver(post_save, sender=Layer)
@receiver(post_delete, sender=Layer)
def on_layer_saved(sender, instance: Layer, **kwargs) -> None:
    def after_commit() -> None:
        # An updated (restyled, reclassified) or deleted layer: every cached tile of it is stale.
        if regenerate_if_ours() and kwargs.get("created") is not True:
            cache.invalidate(instance.name)

    transaction.on_commit(after_commit)
