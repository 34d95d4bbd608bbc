"""Layer registry: themes, per-department ownership, vector and raster datasets, import/export, catalog."""
