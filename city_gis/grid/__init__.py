"""Administrative units, unit grid cells, components and geocoding."""
