"""The one place that talks to the urban-management core (cases, categories, geocoding) for this app."""
