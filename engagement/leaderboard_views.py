"""The leaderboard page: a group's members by points this week or month, and the group
against its siblings."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from analytics.exports import table_response
from analytics.selectors import visible_groups
from engagement import leaderboards as boards
from subgroups.models import Community
from subgroups.views import community_page


def _choice(request: HttpRequest, name: str, options: dict, default: str) -> str:
    value = request.GET.get(name, default)
    return value if value in options else default


def _member_export(fmt: str, group, rows, window) -> HttpResponse:
    columns = [
        ("rank", _("Rank")),
        ("name", _("Member")),
        ("points", _("Points earned")),
        ("messages", _("Messages")),
        ("check_ins", _("Check-ins")),
    ]
    data = [{key: getattr(row, key) for key, _heading in columns} for row in rows]
    filename = f"{group.slug}-leaderboard-{window.period}-{window.first:%Y%m%d}"
    return table_response(fmt=fmt, filename=filename, columns=columns, rows=data)


def _sibling_export(fmt: str, group, rows) -> HttpResponse:
    columns = [
        ("rank", _("Rank")),
        ("group", _("Group")),
        ("members", _("Members")),
        ("grade", _("Health grade")),
        ("health_rank", _("Health rank")),
        ("activity_rank", _("Activity rank")),
        ("messages_per_member", _("Messages per member")),
        ("speaking_rate_week", _("Speaking rate, week")),
        ("points_per_member", _("Points per member")),
        ("check_in_rate", _("Check-in rate")),
    ]
    data = [
        {key: (row.group.name if key == "group" else getattr(row, key)) for key, _heading in columns} for row in rows
    ]
    return table_response(fmt=fmt, filename=f"{group.slug}-siblings", columns=columns, rows=data)


@require_GET
@community_page
def leaderboards(request: HttpRequest, community: Community) -> HttpResponse:
    visible = visible_groups(request.user, community).exclude(status="archived")
    chosen = request.GET.get("group", "")
    if chosen.isdigit():
        group = get_object_or_404(visible, pk=int(chosen))
    else:
        group = visible.filter(pk=community.hub_id).first() or visible.order_by("tree_id", "lft").first()
    period = _choice(request, "period", boards.PERIODS, "week")
    which = _choice(request, "which", boards.WHICH, "current")
    context = {"community": community, "group": group, "period": period, "which": which}
    if group is not None:
        window = boards.window_for(community, period=period, which=which)
        rows = boards.member_leaderboard(group=group, window=window)
        siblings = boards.sibling_ranking(groups=boards.sibling_groups(group, visible), window=window)
        fmt = request.GET.get("export", "")
        if fmt:
            if request.GET.get("table") == "siblings":
                return _sibling_export(fmt, group, siblings)
            return _member_export(fmt, group, rows, window)
        top = rows[:10]
        context.update(
            {
                "window": window,
                "rows": rows,
                "siblings": siblings,
                "siblings_have_data": boards.ranking_has_data(siblings),
                "members_chart": {
                    "labels": [row.name for row in top],
                    "datasets": [{"label": str(_("Points earned")), "data": [row.points for row in top]}],
                },
                "siblings_chart": {
                    "labels": [row.group.name for row in siblings],
                    "datasets": [
                        {
                            "label": str(_("Health (A = 100)")),
                            "data": [row.health or 0 for row in siblings],
                            "color": "#2f7d4f",
                        },
                        {
                            "label": str(_("Messages per member ×10")),
                            "data": [round((row.messages_per_member or 0) * 10, 2) for row in siblings],
                            "color": "#3b82c4",
                        },
                    ],
                },
                "groups": visible.order_by("tree_id", "lft"),
                "periods": boards.PERIODS.items(),
                "whiches": boards.WHICH.items(),
            }
        )
    return render(request, "engagement/leaderboards.html", context)
