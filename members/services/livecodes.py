"""Live join codes (活码): route each newcomer to a group of the pool that still has room."""

from __future__ import annotations

import secrets
from typing import Any

from django.db import transaction
from django.db.models import F
from django.utils.translation import gettext as _

from core.errors import ApplicationError
from members import rules
from members.models import LiveCode, LiveCodeGroup, Member, Membership, MembershipSource, MembershipStatus, Role
from members.services.funnel import welcome_text
from members.services.people import GroupFull, member_by_handle, member_create, membership_add, role_grant
from outbox.models import MessageKind
from outbox.services import message_enqueue
from subgroups import services as tree
from subgroups.models import SUBGROUP_KINDS, WECHAT_QR_MEMBER_LIMIT, Community, Group, GroupStatus, Platform
from subgroups.rules import conventional_name_pattern

_UNSET: Any = object()


def seat_limit(code: LiveCode, group: Group) -> int | None:
    """Route to a group while it has fewer members than this. WeChat groups default to 200,
    where their scan-to-join QR code stops working."""
    if code.join_limit:
        return code.join_limit
    return WECHAT_QR_MEMBER_LIMIT if group.platform == Platform.WECHAT else None


def _check_pool(community: Community, parent: Group, groups: list[Group]) -> None:
    if parent.community_id != community.pk:
        raise ApplicationError(_("Choose a group of this community."), field="parent")
    for group in groups:
        if group.community_id != community.pk or group.parent_id != parent.pk:
            raise ApplicationError(
                _("“%(group)s” is not directly under “%(parent)s”.") % {"group": group.name, "parent": parent.name},
                field="groups",
            )


@transaction.atomic
def livecode_create(
    *,
    community: Community,
    name: str,
    parent: Group,
    attribute: str,
    groups: list[Group] | None = (),
    kind: str = "interest",
    join_limit: int | None = None,
    max_groups: int = 10,
    guide: Member | None = None,
) -> LiveCode:
    """A live code for a pool of sibling groups under ``parent``; new groups open there too.
    ``groups=None`` pools the groups already under ``parent`` named by the convention for
    ``attribute`` (…-摄影小群01, …-摄影小群02)."""
    name = rules.clean_name(name, field="name")
    attribute = rules.clean_name(attribute, field="attribute")[:40]
    if groups is None:
        pattern = conventional_name_pattern(hub_name=community.hub.name, attribute=attribute)
        groups = [
            child
            for child in parent.get_children().order_by("lft")
            if pattern.match(child.name) and not child.is_archived
        ]
    groups = list(groups)
    _check_pool(community, parent, groups)
    if kind not in dict(SUBGROUP_KINDS):
        raise ApplicationError(_("Choose the kind of the new groups."), field="kind")
    if join_limit is not None and not 1 <= join_limit <= 1_000_000:
        raise ApplicationError(_("The routing limit must be a positive number."), field="join_limit")
    if not 1 <= max_groups <= 99:
        raise ApplicationError(_("A live code manages 1 to 99 groups."), field="max_groups")
    if guide is not None and guide.community_id != community.pk:
        raise ApplicationError(_("Choose a member of this community."), field="guide")
    code = LiveCode.objects.create(
        community=community,
        name=name,
        slug=secrets.token_urlsafe(9).replace("_", "x").replace("-", "y").lower(),
        parent=parent,
        attribute=attribute,
        kind=kind,
        join_limit=join_limit,
        max_groups=max_groups,
        guide=guide,
    )
    LiveCodeGroup.objects.bulk_create(
        LiveCodeGroup(code=code, group=group, position=index) for index, group in enumerate(groups)
    )
    return code


@transaction.atomic
def livecode_update(
    *,
    code: LiveCode,
    name: str = _UNSET,
    join_limit: int | None = _UNSET,
    max_groups: int = _UNSET,
    is_active: bool = _UNSET,
    guide: Member | None = _UNSET,
) -> LiveCode:
    code = LiveCode.objects.select_for_update().get(pk=code.pk)
    if name is not _UNSET:
        code.name = rules.clean_name(name, field="name")
    if join_limit is not _UNSET:
        if join_limit is not None and not 1 <= join_limit <= 1_000_000:
            raise ApplicationError(_("The routing limit must be a positive number."), field="join_limit")
        code.join_limit = join_limit
    if max_groups is not _UNSET:
        if not max(1, code.pool.count()) <= max_groups <= 99:
            raise ApplicationError(
                _("A live code manages 1 to 99 groups, and at least those it has."), field="max_groups"
            )
        code.max_groups = max_groups
    if is_active is not _UNSET:
        code.is_active = bool(is_active)
    if guide is not _UNSET:
        code.guide = guide
    code.save()
    return code


def livecode_scan(*, code: LiveCode) -> None:
    LiveCode.objects.filter(pk=code.pk).update(scan_count=F("scan_count") + 1)


def _open_next_group(code: LiveCode, template: Group | None) -> Group:
    name = tree.group_propose_name(community=code.community, attribute=code.attribute)
    group = tree.group_create_child(
        parent=code.parent,
        name=name,
        kind=code.kind,
        platform=template.platform if template else None,
        capacity=template.capacity if template else None,
        rules_text=template.rules if template else "",
        description=template.description if template else "",
        admission_criteria=template.admission_criteria if template and template.kind == code.kind else None,
        welcome_template=template.welcome_template if template else "",
    )
    position = (code.pool.order_by("-position").values_list("position", flat=True).first() or 0) + 1
    LiveCodeGroup.objects.create(code=code, group=group, position=position)
    if code.guide_id:
        role_grant(member=code.guide, group=group, role=Role.GUIDE)
    return group


@transaction.atomic
def livecode_join(
    *,
    code: LiveCode,
    display_name: str = "",
    platform: str = "",
    external_user_id: str = "",
    verified: bool = False,
    invited_by: Member | None = None,
) -> Membership:
    """Seat a newcomer (see ``_seat``) and queue their welcome message.

    ``verified``: an authenticated integration vouches for the platform account, which then
    identifies the member. A scan of the public page always brings a new member.
    ``invited_by``: the member whose personal invitation link brought them (裂变)."""
    if not verified:
        platform, external_user_id = "", ""
    membership = _seat(
        code=code,
        display_name=display_name,
        platform=platform,
        external_user_id=external_user_id,
        invited_by=invited_by,
    )
    handle = membership.member.handles.filter(platform=membership.group.platform).first()
    message_enqueue(
        group=membership.group,
        kind=MessageKind.WELCOME,
        body=welcome_text(membership.group, membership.member.display_name, membership.member),
        recipient_platform=membership.group.platform,
        recipient_external_id=handle.external_id if handle else "",
        recipient_name=membership.member.display_name,
        dedupe_key=f"welcome:{membership.pk}",
    )
    return membership


def _seat(
    *, code: LiveCode, display_name: str, platform: str, external_user_id: str, invited_by: Member | None = None
) -> Membership:
    """Seat one newcomer in the first group of the pool with room, opening the next numbered
    group when every one is full. Joins through one code are serialised by locking the code,
    and each seat is taken with a conditional update, so no group is ever overfilled."""
    code = LiveCode.objects.select_for_update().select_related("community", "parent").get(pk=code.pk)
    if not code.is_active:
        raise ApplicationError(_("This live code is switched off."))
    platform, external_user_id = rules.clean_handle(platform, external_user_id)
    member = member_by_handle(community=code.community, platform=platform, external_id=external_user_id)
    if member is None:
        member = member_create(
            community=code.community,
            display_name=display_name or _("Newcomer"),
            handles=[(platform, external_user_id)] if platform else [],
        )

    if invited_by is not None and (invited_by.community_id != code.community_id or invited_by.pk == member.pk):
        invited_by = None
    pool = list(code.pool.select_related("group").order_by("position", "pk"))
    already = Membership.objects.filter(
        member=member, group__in=[entry.group for entry in pool], status=MembershipStatus.ACTIVE
    ).first()
    if already is not None:
        return already
    for entry in pool:
        if entry.group.status == GroupStatus.ARCHIVED:
            continue
        try:
            return membership_add(
                member=member,
                group=entry.group,
                source=MembershipSource.LIVE_CODE,
                live_code=code,
                invited_by=invited_by,
                seat_limit=seat_limit(code, entry.group),
            )
        except GroupFull:
            continue
    live_groups = [entry for entry in pool if entry.group.status != GroupStatus.ARCHIVED]
    if len(live_groups) >= code.max_groups:
        raise ApplicationError(
            _("Every group of “%(code)s” is full. An admin has been told; please try again later.")
            % {"code": code.name}
        )
    group = _open_next_group(code, pool[-1].group if pool else None)
    return membership_add(
        member=member,
        group=group,
        source=MembershipSource.LIVE_CODE,
        live_code=code,
        invited_by=invited_by,
        seat_limit=seat_limit(code, group),
    )
