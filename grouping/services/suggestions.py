"""Group suggestions from the survey's demand clusters, and accepting or dismissing them.

``suggestions_refresh`` keeps one pending suggestion per topic that meets the conditions,
updating it in place; decided suggestions are never touched, and a dismissed topic stays
dismissed for this survey. ``suggestion_accept`` creates the sub-group through the tree's own
service (naming convention, banned words, capacity, tree lock) and invites the matched members,
exactly once however many operators press the button at the same moment.
"""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from core.errors import ApplicationError
from grouping import selectors
from grouping.models import GroupSuggestion, MatchReason, NeedsSurvey, SuggestedMember, SuggestionStatus
from grouping.selectors import ClusterState
from members.services.funnel import invitation_create
from subgroups import services as tree
from subgroups.models import Community, Group, GroupKind

_FIELDS = (
    "attribute", "parent_id", "proposed_name", "capacity", "preferred_size", "preferred_frequency", "interested",
    "recommended", "willing_admins", "score",
)  # fmt: skip


def _matches(cluster: selectors.Cluster) -> list[tuple[int, str, bool, float | None]]:
    """(member, reason, willing admin, model score): the willing admins first, then everyone
    else who asked, then the model's picks, best first."""
    admins = set(cluster.admins)
    asked = [(member_id, MatchReason.ASKED, True, None) for member_id in cluster.admins]
    asked += [
        (member_id, MatchReason.ASKED, False, None) for member_id in cluster.candidates if member_id not in admins
    ]
    picked = sorted(cluster.recommended.items(), key=lambda item: (-item[1], item[0]))
    return asked + [(member_id, MatchReason.RECOMMENDED, False, score) for member_id, score in picked]


@transaction.atomic
def suggestions_refresh(*, community: Community) -> dict[str, int]:
    """Bring the pending suggestions in line with the survey: one per topic that enough members
    asked for, with a willing admin and no group with room for them. Returns how many were
    created, updated and withdrawn (pending ones whose topic no longer qualifies)."""
    result = {"created": 0, "updated": 0, "withdrawn": 0, "unchanged": 0}
    survey = (
        NeedsSurvey.objects.select_for_update(of=("self",))
        .select_related("community__hub")
        .filter(community=community)
        .first()
    )
    if survey is None or community.hub_id is None:
        return result
    # The survey row lock serialises refreshes; the suggestion row locks order us against an
    # accept in flight (an accepted row is no longer pending once we get it).
    pending = {
        suggestion.topic: suggestion
        for suggestion in GroupSuggestion.objects.select_for_update().filter(
            community=community, status=SuggestionStatus.PENDING
        )
    }
    keep: set[int] = set()
    now = timezone.now()
    for cluster in selectors.demand_clusters(survey):
        if cluster.state != ClusterState.SUGGESTED:
            continue
        try:
            name = tree.group_propose_name(community=community, attribute=cluster.label)
        except ApplicationError:
            continue  # e.g. the label now holds a banned word: nothing to propose
        values = {
            "attribute": cluster.label,
            "parent_id": cluster.parent.pk,
            "proposed_name": name,
            "capacity": cluster.capacity,
            "preferred_size": cluster.preferred_size,
            "preferred_frequency": cluster.preferred_frequency,
            "interested": cluster.interested,
            "recommended": len(cluster.recommended),
            "willing_admins": cluster.willing_admins,
            "score": cluster.score,
        }
        matches = _matches(cluster)
        suggestion = pending.get(cluster.topic)
        if suggestion is None:
            suggestion = GroupSuggestion.objects.create(
                community=community, survey=survey, topic=cluster.topic, created_at=now, updated_at=now, **values
            )
            result["created"] += 1
        else:
            before = [(m.member_id, m.reason, m.willing_admin, m.score) for m in suggestion.matches.order_by("pk")]
            if all(getattr(suggestion, name) == value for name, value in values.items()) and before == matches:
                keep.add(suggestion.pk)
                result["unchanged"] += 1
                continue
            GroupSuggestion.objects.filter(pk=suggestion.pk).update(updated_at=now, **values)
            suggestion.matches.all().delete()
            result["updated"] += 1
        keep.add(suggestion.pk)
        SuggestedMember.objects.bulk_create(
            [
                SuggestedMember(
                    suggestion=suggestion, member_id=member_id, reason=reason, willing_admin=admin, score=score
                )
                for member_id, reason, admin, score in matches
            ],
            batch_size=1000,
        )
    stale = [suggestion.pk for suggestion in pending.values() if suggestion.pk not in keep]
    if stale:
        # Undecided, so nothing anyone chose is lost: the topic no longer qualifies.
        GroupSuggestion.objects.filter(pk__in=stale, status=SuggestionStatus.PENDING).delete()
        result["withdrawn"] = len(stale)
    return result


def _note(suggestion: GroupSuggestion, match: SuggestedMember) -> str:
    if match.reason == MatchReason.RECOMMENDED:
        note = _("We think you would enjoy a smaller group about “%(topic)s”.") % {"topic": suggestion.attribute}
    else:
        note = _("You asked for a group about “%(topic)s” in our needs survey: here it is.") % {
            "topic": suggestion.attribute
        }
    if match.willing_admin:
        note += " " + _("You said you would help run it: once you have joined, we will make you its admin.")
    return note


def suggestion_accept(
    *, suggestion: GroupSuggestion, by=None, parent: Group | None = None
) -> tuple[GroupSuggestion, bool]:
    """Create the suggested sub-group and invite its members (willing admins first, up to the
    group's capacity; each invitation queues its link in the outbox). Returns the suggestion
    and whether this call created the group: accepting an accepted suggestion, or two operators
    accepting at once, creates one group and one set of invitations."""
    with transaction.atomic():
        locked = (
            GroupSuggestion.objects.select_for_update(of=("self",))
            .select_related("community__hub", "parent")
            .filter(pk=suggestion.pk)
            .first()
        )
        if locked is None:
            raise ApplicationError(_("This suggestion is no longer there: the survey changed. Refresh the page."))
        if locked.status == SuggestionStatus.ACCEPTED:
            return locked, False
        if locked.status == SuggestionStatus.DISMISSED:
            raise ApplicationError(_("This suggestion was dismissed."), field="status")
        community = locked.community
        parent = parent or locked.parent
        if parent.community_id != community.pk:
            raise ApplicationError(_("Choose a group of this community."), field="parent")
        # Named now, not when suggested: another group may have taken the number since.
        name = tree.group_propose_name(community=community, attribute=locked.attribute)
        group = tree.group_create_child(
            parent=parent,
            name=name,
            kind=GroupKind.INTEREST,
            capacity=locked.capacity,
            admission_criteria={"tags": [locked.attribute]},
            description=_("Suggested by the needs survey: %(count)d members asked for “%(topic)s”.")
            % {"count": locked.interested, "topic": locked.attribute},
        )
        matches = list(
            locked.matches.select_related("member").order_by("-willing_admin", "reason", "pk")[: group.capacity]
        )
        for match in matches:
            match.invitation = invitation_create(group=group, member=match.member, by=by, note=_note(locked, match))
        SuggestedMember.objects.bulk_update(matches, ["invitation"], batch_size=500)
        locked.status = SuggestionStatus.ACCEPTED
        locked.group = group
        locked.parent = parent
        locked.proposed_name = name
        locked.invited_count = len(matches)
        locked.decided_by = by if getattr(by, "is_authenticated", False) else None
        locked.decided_at = locked.updated_at = timezone.now()
        locked.save()
        return locked, True


@transaction.atomic
def suggestion_dismiss(*, suggestion: GroupSuggestion, by=None) -> GroupSuggestion:
    """Not now: the topic is not suggested again for this survey. Twice is harmless."""
    locked = GroupSuggestion.objects.select_for_update().filter(pk=suggestion.pk).first()
    if locked is None:
        raise ApplicationError(_("This suggestion is no longer there: the survey changed. Refresh the page."))
    if locked.status == SuggestionStatus.ACCEPTED:
        raise ApplicationError(_("This suggestion was already accepted."), field="status")
    if locked.status == SuggestionStatus.PENDING:
        locked.status = SuggestionStatus.DISMISSED
        locked.decided_by = by if getattr(by, "is_authenticated", False) else None
        locked.decided_at = locked.updated_at = timezone.now()
        locked.save()
    return locked
