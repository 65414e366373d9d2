"""Synthetic activity in a real community: for the demo, the benchmarks and trying Canopy out.

``analytics.synthetic`` makes the behaviour (pure numpy); this module puts it in a community:
members with platform accounts and memberships that start and end when the synthetic ones do,
and events in the same table, with the same local days, that ingestion writes. Events go in
with COPY on PostgreSQL and multi-row INSERTs elsewhere; the days they touch are marked dirty,
so the next metric run picks them up.
"""

from __future__ import annotations

import io
import zoneinfo
from datetime import datetime

import numpy as np
import pandas as pd
from django.db import connection, transaction
from django.db.models import Count, Q
from django.utils import timezone

from analytics import synthetic
from analytics.models import DirtyDay, Event
from analytics.sql import derived_data_transaction, insert, update_rows, upsert
from members.models import Member, Membership, MembershipSource, MembershipStatus, PlatformHandle
from subgroups.models import Community, Group, GroupStatus

HUB_SHARE = 0.25  # of events happen in the hub rather than the member's sub-group
_COLUMNS = (
    "community_id", "group_id", "member_id", "kind", "occurred_at", "day", "external_id", "text_length",
    "text_hash", "text", "is_question", "reply_to", "value", "received_at",
)  # fmt: skip


def activity_generate(
    *,
    community: Community,
    members: int,
    days: int,
    seed: int = 0,
    use_existing: bool = False,
    events_target: int | None = None,
    now: datetime | None = None,
) -> dict[str, int]:
    """Generate ``days`` of activity for ``members`` synthetic members. With ``use_existing``,
    the community's own members (oldest first) act it out and their memberships are backdated
    to when their synthetic selves joined; otherwise new members are created."""
    now = now or timezone.now()
    hub = community.hub
    groups = list(
        Group.objects.filter(community=community).exclude(pk=hub.pk).exclude(status=GroupStatus.ARCHIVED).order_by("pk")
    ) or [hub]
    activity = synthetic.generate_activity(
        members=members, days=days, groups=len(groups), seed=seed, end=now, events_target=events_target
    )
    people = activity.members
    with transaction.atomic():
        derived_data_transaction()  # generated data: no need to wait for the WAL flush
        if use_existing:
            member_ids, homes = _existing_members(community, people)
        else:
            member_ids, homes = _new_members(community, people, groups)
        _backdate_memberships(community, people, member_ids, homes, create_missing=not use_existing)
        inserted = _events_load(community, activity.events, member_ids, homes, seed=seed)
    return {"members": len(people), "events": inserted}


def _existing_members(community: Community, people: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """The community's members, oldest first (round again if there are fewer), each acting in
    a sub-group they are already in, or the hub."""
    ids = np.array(Member.objects.filter(community=community).order_by("pk").values_list("pk", flat=True))
    if len(ids) == 0:
        raise ValueError("The community has no members to act it out; leave out --existing.")
    home: dict[int, int] = {}
    for member_id, group_id in (
        Membership.objects.filter(member__community=community, status=MembershipStatus.ACTIVE)
        .exclude(group_id=community.hub_id)
        .order_by("group_id")
        .values_list("member_id", "group_id")
    ):
        home.setdefault(member_id, group_id)
    chosen = ids[np.arange(len(people)) % len(ids)]
    return chosen, np.array([home.get(member_id, community.hub_id) for member_id in chosen.tolist()])


def _new_members(community: Community, people: pd.DataFrame, groups: list[Group]) -> tuple[np.ndarray, np.ndarray]:
    """New members with platform accounts, each in the hub and one sub-group, if those have
    room for them all."""
    homes = np.array([group.pk for group in groups])[people["group"].to_numpy()]
    needed = pd.Series(homes).value_counts().to_dict()
    needed[community.hub_id] = len(people)  # everyone is in the hub, whatever their sub-group
    for group in Group.objects.filter(pk__in=list(needed)):
        if group.member_count + needed[group.pk] > group.capacity:
            raise ValueError(
                f"“{group.name}” has room for {group.capacity - group.member_count} more members, "
                f"not {needed[group.pk]}."
            )
    created = Member.objects.bulk_create(
        Member(
            community=community,
            display_name=name[:100],
            city=str(city),
            purchase_count=int(purchases),
            joined_at=joined.to_pydatetime(),
        )
        for name, city, purchases, joined in zip(
            people["display_name"], people["city"], people["purchase_count"], people["joined_at"], strict=True
        )
    )
    platform = community.hub.platform
    PlatformHandle.objects.bulk_create(
        PlatformHandle(community=community, member=member, platform=platform, external_id=external_id)
        for member, external_id in zip(created, people["external_id"], strict=True)
    )
    return np.array([member.pk for member in created]), homes


def _backdate_memberships(
    community: Community, people: pd.DataFrame, member_ids: np.ndarray, homes: np.ndarray, *, create_missing: bool
) -> None:
    """Each synthetic member belongs to the hub and to their sub-group from their join to their
    leave: existing memberships move to those times; missing ones are created for new members."""
    hub = community.hub
    joined = dict(zip(member_ids.tolist(), (stamp.to_pydatetime() for stamp in people["joined_at"]), strict=True))
    left = {
        member_id: stamp.to_pydatetime()
        for member_id, stamp in zip(member_ids.tolist(), people["left_at"], strict=True)
        if not pd.isna(stamp)
    }
    group_of = dict(zip(member_ids.tolist(), homes.tolist(), strict=True))
    existing = {
        (membership.member_id, membership.group_id): membership
        for membership in Membership.objects.filter(member_id__in=list(joined), status=MembershipStatus.ACTIVE)
    }
    changed, created = [], []
    for member_id, when in joined.items():
        for group_id in {hub.pk, group_of[member_id]}:
            membership = existing.get((member_id, group_id))
            if membership is None:
                if not create_missing:
                    continue
                membership = Membership(
                    member_id=member_id, group_id=group_id, source=MembershipSource.IMPORT, joined_at=when
                )
                created.append(membership)
            else:
                membership.joined_at = min(membership.joined_at, when)
                changed.append(membership)
            if member_id in left and membership.role == "member":
                membership.status, membership.left_at = MembershipStatus.LEFT, left[member_id]
    update_rows(
        Membership,
        ["joined_at", "status", "left_at"],
        [(membership.pk, membership.joined_at, membership.status, membership.left_at) for membership in changed],
    )
    Membership.objects.bulk_create(created, batch_size=1000)
    update_rows(Member, ["joined_at"], list(joined.items()))
    # The seat counts follow the memberships that are still open.
    counts = dict(
        Group.objects.filter(community=community)
        .annotate(open=Count("memberships", filter=Q(memberships__status=MembershipStatus.ACTIVE)))
        .values_list("pk", "open")
    )
    for group in Group.objects.filter(community=community):
        Group.objects.filter(pk=group.pk).update(member_count=counts.get(group.pk, 0))


def _events_load(
    community: Community, events: pd.DataFrame, member_ids: np.ndarray, homes: np.ndarray, *, seed: int
) -> int:
    rng = np.random.default_rng(seed + 7919)
    own = homes[events["member"].to_numpy()]
    in_hub = rng.random(len(events)) < HUB_SHARE
    # Joins and leaves stay in the member's own sub-group.
    moves = events["kind"].isin(["join", "leave"]).to_numpy()
    targets = np.where(in_hub & ~moves, community.hub_id, own)
    zone = zoneinfo.ZoneInfo(community.time_zone)
    local_days = events["occurred_at"].dt.tz_convert(zone).dt.date
    frame = pd.DataFrame(
        {
            "community_id": community.pk,
            "group_id": targets,
            "member_id": member_ids[events["member"].to_numpy()],
            "kind": events["kind"].astype(str),
            "occurred_at": events["occurred_at"],
            "day": local_days,
            "external_id": f"c{community.pk}-" + events["external_id"].astype(str),
            "text_length": events["text_length"].where(events["text_length"] > 0),
            "value": events["value"].round(2),
        }
    )
    inserted = events_copy(frame)
    days = sorted(set(frame["day"].tolist()))
    upsert(
        DirtyDay._meta.db_table,
        ("community_id", "day", "seq"),
        [(community.pk, connection.ops.adapt_datefield_value(day), 1) for day in days],
        conflict=("community_id", "day"),
        update=(),
        extra_set=f"seq = {DirtyDay._meta.db_table}.seq + 1",
    )
    return inserted


def events_copy(frame: pd.DataFrame) -> int:
    """Store a frame of events (columns community_id, group_id, member_id, kind, occurred_at,
    day, external_id and optionally text_length, value) straight into the event table: COPY
    on PostgreSQL, multi-row INSERTs elsewhere. No dedupe: for generated data and benchmarks."""
    if frame.empty:
        return 0
    now = timezone.now()
    full = pd.DataFrame(
        {
            "community_id": frame["community_id"],
            "group_id": frame["group_id"],
            "member_id": frame["member_id"],
            "kind": frame["kind"],
            "occurred_at": frame["occurred_at"],
            "day": frame["day"],
            "external_id": frame["external_id"],
            "text_length": frame.get("text_length", pd.Series(np.nan, index=frame.index)).astype("Int64"),
            "text_hash": "",
            "text": "",
            "is_question": False,
            "reply_to": "",
            "value": frame.get("value", pd.Series(np.nan, index=frame.index)),
            "received_at": now,
        }
    )
    table = Event._meta.db_table
    if connection.vendor == "postgresql":
        for start in range(0, len(full), 500_000):
            buffer = io.StringIO()
            full.iloc[start : start + 500_000].to_csv(
                buffer, index=False, header=False, date_format="%Y-%m-%d %H:%M:%S%z"
            )
            buffer.seek(0)
            with connection.cursor() as cursor:
                cursor.copy_expert(
                    f"COPY {table} ({', '.join(_COLUMNS)}) FROM STDIN "
                    "WITH (FORMAT csv, FORCE_NOT_NULL (text_hash, text, reply_to))",
                    buffer,
                )
        return len(full)
    ops = connection.ops
    rows = [
        (
            community_id, group_id, member_id, kind, ops.adapt_datetimefield_value(occurred.to_pydatetime()),
            ops.adapt_datefield_value(day), external_id, None if pd.isna(length) else int(length), "", "", False,
            "", None if pd.isna(value) else round(float(value), 2), ops.adapt_datetimefield_value(now),
        )
        for community_id, group_id, member_id, kind, occurred, day, external_id, length, value in zip(
            full["community_id"], full["group_id"], full["member_id"], full["kind"], full["occurred_at"],
            full["day"], full["external_id"], full["text_length"], full["value"], strict=True,
        )
    ]  # fmt: skip
    return insert(table, _COLUMNS, rows)
