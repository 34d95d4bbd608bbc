"""Departments, roles and users."""
