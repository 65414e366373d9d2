"""Invitation campaigns and their invite tasks (邀请任务): "invite 3 friends, unlock
《豆瓣高分书单》". A credited referral belongs to the campaign whose window and scope its join falls
in; an inviter whose credited referrals in a campaign reach its goal completes the task once,
gets the reward points once and a message through the outbox once."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db import IntegrityError, transaction
from django.db.models import Count, F, Q
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from core.errors import ApplicationError
from core.text import has_invalid_characters
from engagement.services.passes import member_pass
from fission.models import Campaign, InviteTaskCompletion, Referral, ReferralStatus
from members.models import Member, PlatformHandle
from members.services.funnel import public_url
from members.services.points import points_grant
from outbox.models import MessageKind
from outbox.services import message_enqueue
from subgroups.locale import member_locale
from subgroups.models import Community, Group

MAX_GOAL = 1000
MAX_REWARD_POINTS = 1_000_000


# --- Which campaign a join belongs to -------------------------------------------------------------


def running_campaigns(community: Community) -> list[Campaign]:
    """The community's active campaigns, with their scope's place in the tree."""
    return list(
        Campaign.objects.filter(community=community, is_active=True)
        .select_related("group")
        .order_by("-starts_at", "pk")
    )


def campaign_for(campaigns: list[Campaign], group: Group | None, joined_at: datetime) -> Campaign | None:
    """The campaign a join into ``group`` at ``joined_at`` belongs to. When several match, the
    narrowest scope wins (a group's campaign over the community's), then the latest start."""
    best, best_key = None, None
    for campaign in campaigns:
        if not campaign.starts_at <= joined_at < campaign.ends_at:
            continue
        scope = campaign.group
        if scope is not None and (
            group is None or group.tree_id != scope.tree_id or not scope.lft <= group.lft <= group.rght <= scope.rght
        ):
            continue
        key = (scope.lft if scope is not None else -1, campaign.starts_at, -campaign.pk)
        if best_key is None or key > best_key:
            best, best_key = campaign, key
    return best


def referrals_attribute(*, community: Community, referrals=None) -> int:
    """Recompute which campaign each referral belongs to (after a campaign was created,
    changed or deleted). Returns how many changed. Completed tasks stay completed."""
    referrals = Referral.objects.filter(community=community) if referrals is None else referrals
    campaigns = running_campaigns(community)
    groups = {group.pk: group for group in Group.objects.filter(community=community).only("tree_id", "lft", "rght")}
    changed = []
    for referral in referrals.only("pk", "group_id", "joined_at", "campaign_id"):
        campaign = campaign_for(campaigns, groups.get(referral.group_id), referral.joined_at)
        campaign_id = campaign.pk if campaign else None
        if campaign_id != referral.campaign_id:
            referral.campaign_id = campaign_id
            changed.append(referral)
    Referral.objects.bulk_update(changed, ["campaign"], batch_size=1000)
    return len(changed)


# --- Completing invite tasks ----------------------------------------------------------------------


def campaigns_complete(*, community: Community, now: datetime | None = None, campaign: Campaign | None = None) -> int:
    """Complete the invite task of every inviter whose credited referrals in a campaign reached
    its goal and who has not completed it yet: one grouped query finds them. Returns how many
    completed now. Safe to run twice at once: the completion is unique per member and campaign,
    and only the run that made it pays and writes."""
    now = now or timezone.now()
    reached = (
        Referral.objects.filter(community=community, status=ReferralStatus.CREDITED, campaign__isnull=False)
        .filter(**({"campaign": campaign} if campaign is not None else {}))
        .order_by()
        .values("campaign_id", "campaign__goal_invites", "inviter_id")
        .annotate(invites=Count("pk"))
        .filter(invites__gte=F("campaign__goal_invites"))
    )
    done = set(
        InviteTaskCompletion.objects.filter(campaign__community=community).values_list("campaign_id", "member_id")
    )
    due = [row for row in reached if (row["campaign_id"], row["inviter_id"]) not in done]
    if not due:
        return 0
    campaigns = Campaign.objects.select_related("group", "community__hub").in_bulk({row["campaign_id"] for row in due})
    members = Member.objects.in_bulk({row["inviter_id"] for row in due})
    completed = 0
    for row in due:
        completion = _complete(campaigns[row["campaign_id"]], members[row["inviter_id"]], row["invites"], now)
        completed += completion is not None
    return completed


@transaction.atomic
def _complete(campaign: Campaign, member: Member, invites: int, now: datetime) -> InviteTaskCompletion | None:
    try:
        with transaction.atomic():
            completion = InviteTaskCompletion.objects.create(
                campaign=campaign, member=member, invites=invites, completed_at=now
            )
    except IntegrityError:
        return None  # another run completed it a moment ago
    if campaign.reward_points:
        points_grant(
            member=member,
            amount=campaign.reward_points,
            reason="invite_task",
            note=campaign.name[:200],
            key=f"campaign:{campaign.pk}:{member.pk}",
        )
    _tell(campaign, member)
    return completion


def _tell(campaign: Campaign, member: Member) -> None:
    """A private message with the unlocked reward, through the member's account on the
    campaign group's platform (or any account of theirs). Without an account there is nobody
    to send it to: an empty recipient would be the whole group."""
    group = campaign.group or campaign.community.hub
    handles = list(PlatformHandle.objects.filter(member=member).order_by("pk"))
    handle = next((item for item in handles if item.platform == group.platform), handles[0] if handles else None)
    if handle is None:
        return
    page = public_url(reverse("fission:my_invites", args=[member_pass(member=member).token]))
    with member_locale(campaign.community, member):
        body = _("You brought %(count)d friends in: “%(reward)s” is unlocked.") % {
            "count": campaign.goal_invites,
            "reward": campaign.reward_text,
        }
        if campaign.reward_url:
            body += "\n" + campaign.reward_url
        if campaign.reward_points:
            body += "\n" + _("%(points)d points were added to your account.") % {"points": campaign.reward_points}
        body += "\n" + _("Your invitations: %(link)s") % {"link": page}
    message_enqueue(
        group=group,
        kind=MessageKind.INVITATION,
        body=body,
        recipient_platform=handle.platform,
        recipient_external_id=handle.external_id,
        recipient_name=member.display_name,
        dedupe_key=f"invite-task:{campaign.pk}:{member.pk}",
    )


# --- Campaigns ------------------------------------------------------------------------------------


def _clean(
    community: Community,
    *,
    name: Any,
    starts_at: Any,
    ends_at: Any,
    group: Group | None,
    goal_invites: Any,
    reward_text: Any,
    reward_points: Any,
    reward_url: Any,
) -> dict[str, Any]:
    name = " ".join(str(name or "").split())
    if not name:
        raise ApplicationError(_("Give the campaign a name."), field="name")
    if len(name) > 100 or has_invalid_characters(name):
        raise ApplicationError(_("Names are 100 printable characters at most."), field="name")
    if not isinstance(starts_at, datetime):
        raise ApplicationError(_("Give the campaign's start."), field="starts_at")
    if not isinstance(ends_at, datetime):
        raise ApplicationError(_("Give the campaign's end."), field="ends_at")
    if ends_at <= starts_at:
        raise ApplicationError(_("The campaign must end after it starts."), field="ends_at")
    if group is not None and (group.community_id != community.pk or group.is_archived):
        raise ApplicationError(_("Choose a group of this community."), field="group")
    if isinstance(goal_invites, bool) or not isinstance(goal_invites, int) or not 1 <= goal_invites <= MAX_GOAL:
        raise ApplicationError(
            _("The goal is between 1 and %(max)d friends.") % {"max": MAX_GOAL}, field="goal_invites"
        )
    reward_text = " ".join(str(reward_text or "").split())
    if not reward_text:
        raise ApplicationError(_("Say what the task unlocks."), field="reward_text")
    if len(reward_text) > 200 or has_invalid_characters(reward_text):
        raise ApplicationError(_("Keep the reward to 200 printable characters."), field="reward_text")
    if (
        isinstance(reward_points, bool)
        or not isinstance(reward_points, int)
        or not 0 <= reward_points <= MAX_REWARD_POINTS
    ):
        raise ApplicationError(
            _("Reward points are between 0 and %(max)d.") % {"max": MAX_REWARD_POINTS}, field="reward_points"
        )
    reward_url = str(reward_url or "").strip()
    if reward_url:
        try:
            URLValidator(schemes=["http", "https"])(reward_url)
        except ValidationError:
            raise ApplicationError(_("Enter a web address (http or https)."), field="reward_url") from None
        if len(reward_url) > 500:
            raise ApplicationError(_("Enter a web address (http or https)."), field="reward_url")
    return {
        "name": name,
        "starts_at": starts_at,
        "ends_at": ends_at,
        "group": group,
        "goal_invites": goal_invites,
        "reward_text": reward_text,
        "reward_points": reward_points,
        "reward_url": reward_url,
    }


@transaction.atomic
def campaign_save(
    *,
    community: Community,
    campaign: Campaign | None = None,
    name: str,
    starts_at: datetime,
    ends_at: datetime,
    goal_invites: int,
    reward_text: str,
    group: Group | None = None,
    reward_points: int = 0,
    reward_url: str = "",
    is_active: bool = True,
) -> Campaign:
    """Create a campaign, or change ``campaign``. The referrals in its window are attributed
    again, and inviters who now meet the goal complete the task."""
    values = _clean(
        community,
        name=name,
        starts_at=starts_at,
        ends_at=ends_at,
        group=group,
        goal_invites=goal_invites,
        reward_text=reward_text,
        reward_points=reward_points,
        reward_url=reward_url,
    )
    if campaign is None:
        campaign = Campaign(community=community)
        previous = None
    else:
        campaign = Campaign.objects.select_for_update().get(pk=campaign.pk, community=community)
        previous = (campaign.starts_at, campaign.ends_at)
    for field, value in values.items():
        setattr(campaign, field, value)
    campaign.is_active = bool(is_active)
    campaign.save()
    window = Q(joined_at__gte=values["starts_at"], joined_at__lt=values["ends_at"]) | Q(campaign=campaign)
    if previous is not None:
        window |= Q(joined_at__gte=previous[0], joined_at__lt=previous[1])
    referrals_attribute(community=community, referrals=Referral.objects.filter(window, community=community))
    campaigns_complete(community=community, campaign=campaign)
    return campaign


@transaction.atomic
def campaign_delete(*, campaign: Campaign) -> None:
    """Delete a campaign nobody has completed; one with completions is switched off instead,
    so the record of who was rewarded stays."""
    campaign = Campaign.objects.select_for_update().get(pk=campaign.pk)
    if campaign.completions.exists():
        raise ApplicationError(_("Members have completed this campaign's task: switch it off instead of deleting it."))
    community = campaign.community
    affected = list(campaign.referrals.values_list("pk", flat=True))
    campaign.delete()
    referrals_attribute(community=community, referrals=Referral.objects.filter(pk__in=affected))
