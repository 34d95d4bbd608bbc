"""Open311 GeoReport v2: discovery, services, service requests (JSON and XML, spec-format errors)."""
