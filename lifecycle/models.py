"""Models of lifecycle."""

from django.db import models  # noqa: F401
