"""Evaluation indicators per area, department, inspector and period."""
