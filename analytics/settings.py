"""A community's analytics thresholds: the saved row, or the defaults until someone edits them."""

from __future__ import annotations

from analytics.models import AnalyticsSettings
from subgroups.models import Community


def settings_for(community: Community) -> AnalyticsSettings:
    found = AnalyticsSettings.objects.filter(community=community).first()
    return found or AnalyticsSettings(community=community)
