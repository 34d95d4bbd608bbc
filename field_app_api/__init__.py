"""REST API for field inspectors and Open311 GeoReport v2."""
