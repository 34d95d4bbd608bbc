"""OGC API – Features (Parts 1 Core, 2 CRS, 3 Filtering) at /ogcapi/, on Django views behind layers.access.

Modules: crs (the CRS list and axis order), collections (which registry layers are collections and what they
advertise), cql (CQL2 text/JSON → parameterised SQL), items (the feature SQL: pages built as GeoJSON in PostGIS),
problems (problem+json errors), views (the HTTP side). See docs/ogcapi.md.
"""
