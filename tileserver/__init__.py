"""MapServer mapfiles and MapProxy configuration generated from the layer registry; OGC endpoints."""
