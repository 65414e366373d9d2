"""Every write to the community tree.

Each service runs in one transaction, takes the community's tree lock (``subgroups.locks``)
and re-reads the rows it changes after taking it, so django-mptt computes its interval updates
from the current tree rather than from a stale copy. Nothing here changes ``parent`` with a
bulk ``QuerySet.update``, which would bypass mptt entirely.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Case, DateTimeField, F, Value, When
from django.db.models.functions import Coalesce, Now
from django.utils import timezone
from django.utils.translation import gettext as _

from core.errors import ApplicationError
from core.text import has_invalid_characters
from subgroups import rules
from subgroups.access import policy
from subgroups.locks import lock_all_trees, lock_community_tree
from subgroups.models import (
    Community,
    Group,
    GroupKind,
    GroupStatus,
    Platform,
)

_UNSET: Any = object()

logger = logging.getLogger(__name__)


# A live group is full exactly when its members reach its capacity: in Python for one group,
# and as SQL for many at once.
def _status_for(*, member_count: int, capacity: int) -> str:
    return GroupStatus.FULL if member_count >= capacity else GroupStatus.OPEN


_STATUS_BY_SIZE = Case(
    When(member_count__gte=F("capacity"), then=Value(GroupStatus.FULL)),
    default=Value(GroupStatus.OPEN),
)


def _unique_slug(community_id: int | None, base: str) -> str:
    taken = set()
    if community_id is not None:
        taken = set(
            Group.objects.filter(community_id=community_id, slug__startswith=base).values_list("slug", flat=True)
        )
    if base not in taken:
        return base
    number = 2
    while f"{base}-{number}" in taken:
        number += 1
    return f"{base}-{number}"


def _locked(group: Group) -> Group:
    """Take the tree lock for the group's community and return a fresh copy of the group."""
    lock_community_tree(group.community_id)
    try:
        # The row lock also orders us against seat changes (member_count) on this group.
        return Group.objects.select_for_update(of=("self",)).select_related("community").get(pk=group.pk)
    except Group.DoesNotExist:
        raise ApplicationError(_("“%(name)s” no longer exists.") % {"name": group.name}) from None


# --- Communities ----------------------------------------------------------------------------


@transaction.atomic
def community_create(
    *,
    name: str,
    slug: str | None = None,
    platform: str = Platform.WECOM,
    capacity: int | None = None,
    external_id: str = "",
    time_zone: str | None = None,
    language: str | None = None,
    banned_name_words: Iterable[str] | None = None,
    description: str = "",
    rules_text: str = "",
    creator=None,
) -> Community:
    """Create a community with its hub, the root of a new tree. The access policy hands the
    ``creator`` (a user) what they need to run it."""
    banned = rules.clean_banned_words(
        settings.CANOPY_BANNED_NAME_WORDS if banned_name_words is None else banned_name_words
    )
    name = rules.clean_group_name(name, banned_words=banned)
    platform = rules.clean_platform(platform)
    capacity = rules.clean_capacity(capacity, platform)
    time_zone = rules.clean_time_zone(time_zone or settings.CANOPY_DEFAULT_TIME_ZONE)
    language = rules.clean_language(language or settings.CANOPY_DEFAULT_LANGUAGE)
    # A new root takes a new tree_id, computed by mptt as max(tree_id) + 1: serialise with
    # every other tree writer, and with other creators choosing a slug.
    lock_all_trees()
    if slug:
        slug = rules.clean_slug(slug)
        if Community.objects.filter(slug=slug).exists():
            raise ApplicationError(_("A community with this slug already exists."), field="slug")
    else:
        base = rules.slug_from_name(name)[:56].strip("-") or "community"
        taken = set(Community.objects.filter(slug__startswith=base).values_list("slug", flat=True))
        slug, number = base, 2
        while slug in taken:
            slug, number = f"{base}-{number}", number + 1

    try:
        with transaction.atomic():
            community = Community.objects.create(
                slug=slug, time_zone=time_zone, language=language, banned_name_words=banned
            )
    except IntegrityError:
        raise ApplicationError(_("A community with this slug already exists."), field="slug") from None
    hub = Group(
        community=community,
        parent=None,
        name=name,
        slug=_unique_slug(community.pk, rules.slug_from_name(name)),
        kind=GroupKind.HUB,
        platform=platform,
        external_id=rules.clean_external_id(external_id),
        capacity=capacity,
        description=rules.clean_text(description, "description"),
        rules=rules.clean_text(rules_text, "rules"),
    )
    hub.save()
    community.hub = hub
    community.save(update_fields=["hub", "updated_at"])
    if creator is not None:
        policy().community_created(creator, community)
    return community


@transaction.atomic
def community_update(
    *,
    community: Community,
    time_zone: str = _UNSET,
    language: str = _UNSET,
    banned_name_words: Iterable[str] = _UNSET,
) -> Community:
    community = Community.objects.select_for_update().get(pk=community.pk)
    if time_zone is not _UNSET:
        community.time_zone = rules.clean_time_zone(time_zone)
    if language is not _UNSET:
        community.language = rules.clean_language(language)
    if banned_name_words is not _UNSET:
        community.banned_name_words = rules.clean_banned_words(banned_name_words)
    community.save()
    return Community.objects.select_related("hub").get(pk=community.pk)


# --- Groups ---------------------------------------------------------------------------------


@transaction.atomic
def group_create_child(
    *,
    parent: Group,
    name: str,
    kind: str,
    slug: str | None = None,
    platform: str | None = None,
    capacity: int | None = None,
    external_id: str = "",
    description: str = "",
    rules_text: str = "",
    admission_criteria: dict[str, Any] | None = None,
    welcome_template: str = "",
) -> Group:
    """Add a sub-group under ``parent``. Platform defaults to the parent's, capacity to the
    platform's cap."""
    parent = _locked(parent)
    community = parent.community
    rules.check_parent_open(parent)
    if kind not in GroupKind.values or kind == GroupKind.HUB:
        raise ApplicationError(_("A sub-group is interest, tier, region, lifecycle or custom."), field="kind")
    name = rules.clean_group_name(name, banned_words=community.banned_name_words)
    platform = rules.clean_platform(platform or parent.platform)
    capacity = rules.clean_capacity(capacity, platform)
    external_id = rules.clean_external_id(external_id)
    rules.check_external_id_free(community_id=community.pk, platform=platform, external_id=external_id)
    if slug:
        slug = rules.clean_slug(slug)
        rules.check_slug_free(community_id=community.pk, slug=slug)
    else:
        slug = _unique_slug(community.pk, rules.slug_from_name(name))

    child = Group(
        community=community,
        parent=parent,
        name=name,
        slug=slug,
        kind=kind,
        platform=platform,
        external_id=external_id,
        capacity=capacity,
        status=_status_for(member_count=0, capacity=capacity),
        description=rules.clean_text(description, "description"),
        rules=rules.clean_text(rules_text, "rules"),
        admission_criteria=rules.clean_admission_criteria(kind, admission_criteria),
        welcome_template=rules.clean_welcome_template(welcome_template),
        transition_ends_at=timezone.now() + timedelta(days=settings.CANOPY_TRANSITION_DAYS),
    )
    child.save()
    return child


def group_rename(*, group: Group, name: str) -> Group:
    """Rename a group. Its slug, and so its links, stay as they were."""
    return group_update(group=group, name=name)


@transaction.atomic
def group_update(
    *,
    group: Group,
    name: str = _UNSET,
    platform: str = _UNSET,
    capacity: int = _UNSET,
    external_id: str = _UNSET,
    description: str = _UNSET,
    rules_text: str = _UNSET,
    admission_criteria: dict[str, Any] = _UNSET,
    welcome_template: str = _UNSET,
    join_link: str = _UNSET,
) -> Group:
    """Change a group's settings. Structure changes go through move, archive and restore."""
    group = _locked(group)
    if name is not _UNSET:
        group.name = rules.clean_group_name(name, banned_words=group.community.banned_name_words)
    if platform is not _UNSET:
        group.platform = rules.clean_platform(platform)
    if external_id is not _UNSET:
        group.external_id = rules.clean_external_id(external_id)
    if platform is not _UNSET or external_id is not _UNSET:
        rules.check_external_id_free(
            community_id=group.community_id,
            platform=group.platform,
            external_id=group.external_id,
            exclude_pk=group.pk,
        )
    if capacity is not _UNSET:
        group.capacity = rules.clean_capacity(capacity, group.platform, member_count=group.member_count)
        if group.member_count <= group.capacity:
            group.over_capacity_since = None
        if not group.is_archived:
            group.status = _status_for(member_count=group.member_count, capacity=group.capacity)
    if description is not _UNSET:
        group.description = rules.clean_text(description, "description")
    if rules_text is not _UNSET:
        group.rules = rules.clean_text(rules_text, "rules")
    if admission_criteria is not _UNSET:
        group.admission_criteria = rules.clean_admission_criteria(group.kind, admission_criteria)
    if welcome_template is not _UNSET:
        group.welcome_template = rules.clean_welcome_template(welcome_template)
    if join_link is not _UNSET:
        join_link = rules.clean_link(join_link)
        if join_link != group.join_link:
            group.join_link, group.join_link_updated_at = join_link, timezone.now() if join_link else None
    group.save()
    return group


@transaction.atomic
def group_move(*, group: Group, new_parent: Group) -> Group:
    """Move a group, with its whole subtree, under another group of the same community."""
    group = _locked(group)
    target = Group.objects.filter(pk=new_parent.pk).first()
    if target is None:
        raise ApplicationError(_("“%(name)s” no longer exists.") % {"name": new_parent.name}, field="parent")
    new_parent = target
    rules.check_move(group=group, new_parent=new_parent)
    if group.parent_id == new_parent.pk:
        return group
    group.move_to(new_parent, "last-child")
    return Group.objects.select_related("community").get(pk=group.pk)


@transaction.atomic
def group_archive(*, group: Group) -> int:
    """Archive a group and everything below it. Returns how many groups changed."""
    group = _locked(group)
    if group.is_hub:
        raise ApplicationError(_("The hub cannot be archived; it is the community itself."))
    return (
        group.get_descendants(include_self=True)
        .exclude(status=GroupStatus.ARCHIVED)
        .update(status=GroupStatus.ARCHIVED, archived_at=timezone.now(), updated_at=timezone.now())
    )


@transaction.atomic
def group_restore(*, group: Group) -> int:
    """Bring an archived group and its archived subtree back. Returns how many changed."""
    group = _locked(group)
    if not group.is_archived:
        raise ApplicationError(_("“%(name)s” is not archived.") % {"name": group.name})
    if group.parent_id and group.parent.is_archived:
        raise ApplicationError(
            _("“%(name)s” sits in an archived group: restore “%(parent)s” first.")
            % {"name": group.name, "parent": group.parent.name}
        )
    return (
        group.get_descendants(include_self=True)
        .filter(status=GroupStatus.ARCHIVED)
        .update(
            status=_STATUS_BY_SIZE,
            archived_at=None,
            updated_at=timezone.now(),
        )
    )


@transaction.atomic
def group_delete(*, group: Group) -> int:
    """Delete a sub-group and its subtree for good (the admin's delete; pages archive instead)."""
    group = _locked(group)
    if group.is_hub:
        raise ApplicationError(_("The hub goes only with its community."))
    count = group.get_descendant_count() + 1
    group.delete()
    return count


# --- Naming convention ----------------------------------------------------------------------


def group_propose_name(*, community: Community, attribute: str) -> str:
    """The next name by the convention ``<hub>-<attribute>小群<NN>``, numbered per attribute:
    互联网从业者交流群-摄影小群01, then …02 once 01 exists."""
    attribute = " ".join((attribute or "").split())
    if not attribute:
        raise ApplicationError(_("Say what the group is about, e.g. 摄影."), field="attribute")
    rules.check_banned_words(attribute, community.banned_name_words, field="attribute")
    prefix = f"{community.hub.name}-{attribute}小群"
    pattern = rules.conventional_name_pattern(hub_name=community.hub.name, attribute=attribute)
    numbers = [
        int(match.group(1))
        for existing in Group.objects.filter(community=community, name__startswith=prefix).values_list(
            "name", flat=True
        )
        if (match := pattern.match(existing))
    ]
    name = f"{prefix}{max(numbers, default=0) + 1:02d}"
    if len(name) > rules.NAME_MAX_LENGTH or has_invalid_characters(attribute):
        raise ApplicationError(_("The proposed name would be too long; shorten the attribute."), field="attribute")
    return name


# --- Repair ---------------------------------------------------------------------------------


@transaction.atomic
def trees_rebuild() -> None:
    """Recompute every tree's intervals from the parent links (``check_tree --fix``)."""
    lock_all_trees()
    Group.objects.rebuild()


# --- Seats ----------------------------------------------------------------------------------
# member_count is the number of active memberships. Membership services change it only through
# these conditional UPDATEs, so however many joins race, a group never passes its capacity:
# each UPDATE re-checks the row it locks, and exactly the ones that fit succeed.

_STATUS_AFTER_LEAVE = Case(
    When(status=GroupStatus.ARCHIVED, then=Value(GroupStatus.ARCHIVED)),
    When(member_count__gt=F("capacity"), then=Value(GroupStatus.FULL)),
    default=Value(GroupStatus.OPEN),
)


def group_take_seats(*, group_id: int, seats: int = 1, limit: int | None = None) -> bool:
    """Count ``seats`` newcomers into an open group if they fit (within ``limit`` too, when
    given). Returns whether they did. Call inside the transaction that records them."""
    fits = Group.objects.filter(pk=group_id, member_count__lte=F("capacity") - seats).exclude(
        status=GroupStatus.ARCHIVED
    )
    if limit is not None:
        fits = fits.filter(member_count__lte=limit - seats)
    full_after = Case(
        When(member_count__gte=F("capacity") - seats, then=Value(GroupStatus.FULL)),
        default=Value(GroupStatus.OPEN),
    )
    return fits.update(member_count=F("member_count") + seats, status=full_after) == 1


def group_count_arrivals(*, group_id: int, seats: int) -> None:
    """Count members the platform itself let in (a join seen by an integration): they are in the
    group whatever Canopy's capacity says, so the count may pass it and the group reads full."""
    full_after = Case(
        When(member_count__gte=F("capacity") - seats, then=Value(GroupStatus.FULL)),
        default=Value(GroupStatus.OPEN),
    )
    over_after = Case(
        When(member_count__gt=F("capacity") - seats, then=Coalesce(F("over_capacity_since"), Now())),
        default=F("over_capacity_since"),
    )
    Group.objects.filter(pk=group_id).exclude(status=GroupStatus.ARCHIVED).update(
        member_count=F("member_count") + seats, status=full_after, over_capacity_since=over_after
    )
    Group.objects.filter(pk=group_id, status=GroupStatus.ARCHIVED).update(
        member_count=F("member_count") + seats, over_capacity_since=over_after
    )
    if Group.objects.filter(pk=group_id, member_count__gt=F("capacity")).exists():
        logger.warning("group %s is over capacity: the platform reports more members than it allows", group_id)


def group_release_seat(*, group_id: int) -> None:
    """A member left: one more seat is free."""
    Group.objects.filter(pk=group_id, member_count__gt=0).update(
        member_count=F("member_count") - 1,
        status=_STATUS_AFTER_LEAVE,
        over_capacity_since=Case(
            When(member_count__lte=F("capacity") + 1, then=Value(None, output_field=DateTimeField())),
            default=F("over_capacity_since"),
        ),
    )
