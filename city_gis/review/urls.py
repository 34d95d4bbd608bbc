"""URL routes of the review app (mounted under /api/v1/ by city_gis/urls.py)."""

from django.urls import re_path

from .api import (
    NUMBER_PATTERN,
    BatchView,
    FarmlandChangeView,
    ReviewDetailView,
    ReviewListCreateView,
    ReviewReportView,
)

urlpatterns = [
    re_path(r"^reviews/$", ReviewListCreateView.as_view(), name="reviews"),
    re_path(r"^reviews/batch/$", BatchView.as_view(), name="reviews-batch"),
    re_path(r"^reviews/farmland-changes/$", FarmlandChangeView.as_view(), name="reviews-farmland-changes"),
    re_path(rf"^reviews/(?P<number>{NUMBER_PATTERN})/$", ReviewDetailView.as_view(), name="review-detail"),
    re_path(rf"^reviews/(?P<number>{NUMBER_PATTERN})/report\.pdf$", ReviewReportView.as_view(), name="review-report"),
]
