"""Models of grouping."""

from django.db import models  # noqa: F401
