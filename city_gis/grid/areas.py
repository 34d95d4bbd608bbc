"""Which table holds each area level's outlines and which of its rows are current: the one map used by the
dashboard's area outlines (frontend.areas), the evaluation engine's units and the score layers' geometry.

Identifiers and conditions are psycopg2.sql objects built from the models' own table names, never from a
request, so callers compose them into SQL without string formatting.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import models
from psycopg2 import sql

from .models import Cell, Community, District, Street


@dataclass(frozen=True)
class AreaLevel:
    """One area level: its model, whether its rows are versioned and the column that names an area."""

    name: str
    model: type[models.Model]
    versioned: bool  # cells are versioned (valid_from/valid_to): only rows with valid_to NULL are current
    name_column: str | None  # None: the level has no names (a cell is known by its code)

    @property
    def table(self) -> sql.Identifier:
        """The level's table as an SQL identifier."""
        return sql.Identifier(self.model._meta.db_table)

    def current(self, alias: str | None = None) -> sql.Composable:
        """SQL condition selecting the level's current rows (of table alias `alias`, if given)."""
        if not self.versioned:
            return sql.SQL("TRUE")
        column = sql.Identifier(alias, "valid_to") if alias else sql.Identifier("valid_to")
        return sql.SQL("{} IS NULL").format(column)

    def current_rows(self) -> models.QuerySet:
        """The level's current rows as a queryset (the ORM twin of `current`)."""
        rows = self.model.objects.all()
        return rows.filter(valid_to__isnull=True) if self.versioned else rows


# Coarse to fine: the order levels are listed in answers and error messages.
AREA_LEVELS: dict[str, AreaLevel] = {
    level.name: level for level in (
        AreaLevel("district", District, versioned=False, name_column="name"),
        AreaLevel("street", Street, versioned=False, name_column="name"),
        AreaLevel("community", Community, versioned=False, name_column="name"),
        AreaLevel("cell", Cell, versioned=True, name_column=None),
    )
}


def area_level(name: str) -> AreaLevel:
    """The area level `name`; KeyError naming the known levels when there is none."""
    try:
        return AREA_LEVELS[name]
    except KeyError:
        raise KeyError(f"unknown area level {name!r}; one of: {', '.join(AREA_LEVELS)}") from None
