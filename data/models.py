"""Bookkeeping of demo builds, so `citygis load_demo` is idempotent."""

from django.db import models


class DemoBuild(models.Model):
    """One finished demo step (rerunning load_demo skips finished steps unless --force)."""

    step = models.CharField(max_length=60, unique=True)
    seed = models.IntegerField()
    options = models.JSONField(default=dict)
    finished_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return self.step
