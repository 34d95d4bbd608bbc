"""Signals of the layer registry.

`layer_changed` is sent after a layer's registration, style or classification changed (`what="metadata"`),
its features changed (`what="features"`, `bbox` = the changed extent in EPSG:4490 lon/lat or None for
"everything"), or it was removed (`what="deleted"`). The tileserver listens to regenerate its
configuration and to remove the tiles covering the change.
"""

from django.dispatch import Signal

layer_changed = Signal()  # sender=Layer class; kwargs: layer, what, bbox
