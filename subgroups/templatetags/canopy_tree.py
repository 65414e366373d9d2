"""Small pieces of the tree pages, rendered in Python because they repeat once per group."""

from django import template
from django.utils.html import format_html
from django.utils.translation import gettext as _

from subgroups.models import Group, GroupStatus
from subgroups.rules import describe_admission_criteria

register = template.Library()


@register.simple_tag
def capacity_bar(group: Group) -> str:
    percent = group.fill_percent
    level = " is-full" if group.status == GroupStatus.FULL else (" is-high" if percent >= 80 else "")
    title = _("%(members)s of %(capacity)s") % {"members": group.member_count, "capacity": group.capacity}
    if group.over_capacity:
        title = _("%(members)s of %(capacity)s: over capacity, as the platform reports") % {
            "members": group.member_count,
            "capacity": group.capacity,
        }
    return format_html(
        '<span class="capacity{}" title="{}" role="img" aria-label="{}"><span class="capacity-fill" '
        'style="width: {}%"></span></span>',
        level,
        title,
        title,
        percent,
    )


@register.filter
def admission_summary(group: Group) -> str:
    return " · ".join(describe_admission_criteria(group.admission_criteria or {}))
