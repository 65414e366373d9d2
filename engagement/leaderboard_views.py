"""Leaderboard pages (the lead writes these)."""

from engagement.views import placeholder as leaderboards  # noqa: F401 - replaced by the real page
