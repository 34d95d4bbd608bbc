"""CityGIS Django project and the urban-management core (accounts, grid, cases, evaluation)."""
