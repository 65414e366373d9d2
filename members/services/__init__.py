"""Every write about people: members and memberships, the join funnel, live codes, and the
admin programme. Import from the submodules; they are re-exported here for convenience."""

from members.services.funnel import (
    application_approve,
    application_reject,
    application_submit,
    application_withdraw,
    applications_bulk_approve,
    invitation_accept,
    invitation_create,
    invitation_revoke,
)
from members.services.livecodes import livecode_create, livecode_join, livecode_scan, livecode_update
from members.services.people import (
    handle_add,
    member_by_handle,
    member_create,
    member_update,
    membership_add,
    membership_end,
    memberships_import,
    owner_add,
    role_grant,
    role_revoke,
)
from members.services.program import assessment_record, guides_rotate, roles_expire
from members.services.questionnaire import (
    question_create,
    question_delete,
    questionnaire_add_article_questions,
    rule_create,
    rule_delete,
)

__all__ = [
    "application_approve",
    "application_reject",
    "application_submit",
    "application_withdraw",
    "applications_bulk_approve",
    "assessment_record",
    "guides_rotate",
    "handle_add",
    "invitation_accept",
    "invitation_create",
    "invitation_revoke",
    "livecode_create",
    "livecode_join",
    "livecode_scan",
    "livecode_update",
    "member_by_handle",
    "member_create",
    "member_update",
    "membership_add",
    "membership_end",
    "memberships_import",
    "owner_add",
    "question_create",
    "question_delete",
    "questionnaire_add_article_questions",
    "role_grant",
    "role_revoke",
    "roles_expire",
    "rule_create",
    "rule_delete",
]
