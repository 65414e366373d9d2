"""People, their places in the tree, and the way in: applications, invitations, live codes."""

from members.models.funnel import (
    Application,
    ApplicationStatus,
    Invitation,
    KnockoutAction,
    KnockoutOperator,
    KnockoutRule,
    Question,
    QuestionKind,
)
from members.models.livecodes import LiveCode, LiveCodeGroup
from members.models.people import (
    AdminAssessment,
    Member,
    Membership,
    MembershipEvent,
    MembershipSource,
    MembershipStatus,
    PlatformHandle,
    Role,
)
from members.models.points import PointsEntry

__all__ = [
    "AdminAssessment",
    "Application",
    "ApplicationStatus",
    "Invitation",
    "KnockoutAction",
    "KnockoutOperator",
    "KnockoutRule",
    "LiveCode",
    "LiveCodeGroup",
    "Member",
    "Membership",
    "MembershipEvent",
    "MembershipSource",
    "MembershipStatus",
    "PlatformHandle",
    "PointsEntry",
    "Question",
    "QuestionKind",
    "Role",
]
