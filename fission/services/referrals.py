"""Crediting referrals (裂变): every membership that came through a member's invitation link
gets a verdict, once, and the inviter their points for each new person they brought.

The checks, in order, for each referred membership without a verdict:

1. self-invite: the invitee is the inviter, or shares their phone, e-mail or platform account;
2. duplicate contact: the invitee's phone, e-mail or account matches an earlier member of the
   community, or an invitee already credited (one person, two accounts, is brought in once);
3. already a member: the invitee was in the community before this membership;
4. otherwise credited, and the inviter is paid the ``invite_accepted`` points.

A run reads a batch of memberships and everything the checks need in a fixed number of queries,
decides in memory, and writes. Two runs at once are safe: a referral is unique per membership
and a credited one per invitee, so the second writer's insert fails and it moves on; points are
keyed by the referral, so nobody is paid twice.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import datetime

from django.db import IntegrityError, transaction
from django.db.models import Min, Q
from django.db.models.functions import Right
from django.utils import timezone

from engagement.services.points import points_award, points_rules
from fission.models import Campaign, MatchedOn, Referral, ReferralStatus, RejectReason
from fission.services.campaigns import campaign_for, campaigns_complete, running_campaigns
from members.models import Member, Membership, PlatformHandle
from subgroups.models import Community, Group

BATCH = 2000
_DIGITS = re.compile(r"\D")


def phone_key(phone: str) -> str:
    """The same number however it was typed: its last 11 digits (+86 and other prefixes drop off)."""
    return _DIGITS.sub("", phone or "")[-11:]


@dataclass
class _Person:
    pk: int
    phone: str
    email: str
    first_seen: datetime
    joined_at: datetime | None
    handles: frozenset[tuple[str, str]] = frozenset()


@dataclass(frozen=True)
class Verdict:
    status: str
    reason: str = ""
    matched_on: str = ""
    matched_member_id: int | None = None


def pending_memberships(community: Community):
    """Memberships that came through the invitation link of a member of the same community
    and have no verdict yet."""
    return Membership.objects.filter(group__community=community, invited_by__community=community, referral__isnull=True)


def referrals_credit(*, community: Community, now: datetime | None = None, batch: int = BATCH) -> dict[str, int]:
    """Give every referred membership of the community its verdict, pay the inviters, and
    complete the invite tasks that reached their goal. Returns what it did."""
    now = now or timezone.now()
    result: Counter = Counter()
    while True:
        rows = list(
            pending_memberships(community)
            .order_by("joined_at", "pk")
            .values("pk", "member_id", "invited_by_id", "group_id", "live_code_id", "joined_at")[:batch]
        )
        if not rows:
            break
        done = _credit_batch(community, rows)
        result.update(done)
        # Each row now has its verdict (ours, or another run's); stop rather than spin if not.
        if len(rows) < batch or not sum(done.values()):
            break
    result["completed"] = campaigns_complete(community=community, now=now)
    return dict(result)


@transaction.atomic
def _credit_batch(community: Community, rows: list[dict]) -> Counter:
    invitee_ids = {row["member_id"] for row in rows}
    people = _people(community, invitee_ids | {row["invited_by_id"] for row in rows})
    first_membership = dict(
        Membership.objects.filter(member_id__in=invitee_ids)
        .order_by()
        .values("member_id")
        .annotate(first=Min("joined_at"))
        .values_list("member_id", "first")
    )
    lookalikes = _lookalikes(community, [people[pk] for pk in invitee_ids if pk in people])
    credited = set(
        Referral.objects.filter(
            community=community, status=ReferralStatus.CREDITED, invitee_id__in=invitee_ids | lookalikes.member_ids()
        ).values_list("invitee_id", flat=True)
    )
    inviters = Member.objects.in_bulk({row["invited_by_id"] for row in rows})
    groups = {group.pk: group for group in Group.objects.filter(community=community).only("tree_id", "lft", "rght")}
    campaigns = running_campaigns(community)
    rules = points_rules(community=community)

    done: Counter = Counter()
    for row in rows:
        invitee, inviter = people.get(row["member_id"]), people.get(row["invited_by_id"])
        if invitee is None or inviter is None:
            continue  # deleted a moment ago
        verdict = _verdict(row, invitee, inviter, first_membership, lookalikes, credited)
        campaign = campaign_for(campaigns, groups.get(row["group_id"]), row["joined_at"])
        referral = _save(community, row, verdict, campaign)
        if referral is None and verdict.status == ReferralStatus.CREDITED:
            # The invitee was credited a moment ago through another membership (another worker).
            verdict = Verdict(ReferralStatus.REJECTED, RejectReason.ALREADY_MEMBER)
            referral = _save(community, row, verdict, campaign)
        if referral is None:
            done["skipped"] += 1  # another run gave this membership its verdict first
            continue
        done[referral.status] += 1
        if referral.status == ReferralStatus.CREDITED:
            credited.add(invitee.pk)
            done["points"] += points_award(
                member=inviters[inviter.pk],
                rule="invite_accepted",
                key=f"referral:{referral.pk}",
                note=f"#{invitee.pk}",
                rules=rules,
            )
    return done


def _people(community: Community, ids: set[int]) -> dict[int, _Person]:
    people = {
        row["pk"]: _Person(
            pk=row["pk"],
            phone=phone_key(row["phone"]),
            email=(row["email"] or "").lower(),
            first_seen=_first_seen(row),
            joined_at=row["joined_at"],
        )
        for row in Member.objects.filter(community=community, pk__in=ids).values(
            "pk", "phone", "email", "joined_at", "created_at"
        )
    }
    handles: dict[int, set] = defaultdict(set)
    for member_id, platform, external_id in PlatformHandle.objects.filter(
        community=community, member_id__in=ids
    ).values_list("member_id", "platform", "external_id"):
        handles[member_id].add((platform, external_id))
    for pk, person in people.items():
        person.handles = frozenset(handles[pk])
    return people


def _first_seen(row: dict) -> datetime:
    return min(value for value in (row["joined_at"], row["created_at"]) if value is not None)


@dataclass
class _Lookalikes:
    """Other members sharing an invitee's phone, e-mail or account: (first seen, pk) per key."""

    phone: dict[str, list[tuple[datetime, int]]]
    email: dict[str, list[tuple[datetime, int]]]
    handle: dict[tuple[str, str], list[tuple[datetime, int]]]

    def member_ids(self) -> set[int]:
        return {pk for found in (self.phone, self.email, self.handle) for pairs in found.values() for _, pk in pairs}


def _lookalikes(community: Community, invitees: list[_Person]) -> _Lookalikes:
    phones = {person.phone for person in invitees if person.phone}
    emails = {person.email for person in invitees if person.email}
    found = _Lookalikes(defaultdict(list), defaultdict(list), defaultdict(list))
    members = Member.objects.filter(community=community)
    if phones:
        for row in (
            members.annotate(tail=Right("phone", 11))
            .filter(Q(tail__in=phones) | Q(phone__in=phones))
            .values("pk", "phone", "joined_at", "created_at")
        ):
            key = phone_key(row["phone"])
            if key in phones:
                found.phone[key].append((_first_seen(row), row["pk"]))
    if emails:
        for row in members.filter(email__in=emails).values("pk", "email", "joined_at", "created_at"):
            found.email[row["email"].lower()].append((_first_seen(row), row["pk"]))
    # Accounts are unique in a community, so today this finds only the invitees' own; it stays
    # so that the rule holds if that ever changes (an account moved between members).
    external_ids = {external_id for person in invitees for _platform, external_id in person.handles}
    if external_ids:
        for row in PlatformHandle.objects.filter(community=community, external_id__in=external_ids).values(
            "member_id", "platform", "external_id", "member__joined_at", "member__created_at"
        ):
            seen = _first_seen({"joined_at": row["member__joined_at"], "created_at": row["member__created_at"]})
            found.handle[(row["platform"], row["external_id"])].append((seen, row["member_id"]))
    return found


def _verdict(
    row: dict,
    invitee: _Person,
    inviter: _Person,
    first_membership: dict[int, datetime],
    lookalikes: _Lookalikes,
    credited: set[int],
) -> Verdict:
    rejected = ReferralStatus.REJECTED
    if invitee.pk == inviter.pk:
        return Verdict(rejected, RejectReason.SELF_INVITE, MatchedOn.MEMBER, inviter.pk)
    for matched_on, same in (
        (MatchedOn.PHONE, bool(invitee.phone) and invitee.phone == inviter.phone),
        (MatchedOn.EMAIL, bool(invitee.email) and invitee.email == inviter.email),
        (MatchedOn.HANDLE, bool(invitee.handles & inviter.handles)),
    ):
        if same:
            return Verdict(rejected, RejectReason.SELF_INVITE, matched_on, inviter.pk)

    me = (invitee.first_seen, invitee.pk)
    candidates = (
        [(MatchedOn.PHONE, other) for other in lookalikes.phone.get(invitee.phone, [])]
        + [(MatchedOn.EMAIL, other) for other in lookalikes.email.get(invitee.email, [])]
        + [(MatchedOn.HANDLE, other) for handle in invitee.handles for other in lookalikes.handle.get(handle, [])]
    )
    for matched_on, (seen, other_pk) in sorted(candidates, key=lambda item: item[1]):
        if other_pk != invitee.pk and ((seen, other_pk) < me or other_pk in credited):
            return Verdict(rejected, RejectReason.DUPLICATE_CONTACT, matched_on, other_pk)

    # Joined the community before this membership: the member's own join time, or any earlier
    # membership (one they have left included). Merely having a member record does not count.
    joined = row["joined_at"]
    before = min(
        (value for value in (invitee.joined_at, first_membership.get(invitee.pk)) if value is not None),
        default=joined,
    )
    if before < joined or invitee.pk in credited:
        return Verdict(rejected, RejectReason.ALREADY_MEMBER)
    return Verdict(ReferralStatus.CREDITED)


def _save(community: Community, row: dict, verdict: Verdict, campaign: Campaign | None) -> Referral | None:
    """The referral, or None when a unique constraint refused it (another run was first)."""
    try:
        with transaction.atomic():
            return Referral.objects.create(
                community=community,
                inviter_id=row["invited_by_id"],
                invitee_id=row["member_id"],
                membership_id=row["pk"],
                group_id=row["group_id"],
                live_code_id=row["live_code_id"],
                campaign=campaign,
                status=verdict.status,
                reason=verdict.reason,
                matched_on=verdict.matched_on,
                matched_member_id=verdict.matched_member_id,
                joined_at=row["joined_at"],
            )
    except IntegrityError:
        return None
