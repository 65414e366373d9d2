"""The member's side, without a login: the inbox of in-app notices (reached by the link in
each recall message), the tracked link itself, opting out, and the exit questionnaire. Links
carry unguessable tokens; a wrong token is a 404."""

from __future__ import annotations

from django.core import signing
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods

from core.errors import ApplicationError
from core.forms import add_application_error
from members.models import Member
from recall.forms import ExitForm
from recall.models import ExitSurvey, Notice, OptOut, OptOutSource, RecallAttempt
from recall.services import exits, outcomes, policies
from subgroups.locale import member_page

_SALT = "canopy.recall.inbox"


def inbox_token(member: Member) -> str:
    return signing.dumps(member.pk, salt=_SALT, compress=True)


def _holder(member: Member):
    return member.community, member


def _survey_holder(token: str):
    survey = ExitSurvey.objects.select_related("member", "community").filter(token=token).first()
    return (survey.community, survey.member) if survey else None


def _member(token: str) -> Member:
    try:
        member_id = signing.loads(token, salt=_SALT)
    except signing.BadSignature:
        raise Http404 from None
    if not isinstance(member_id, int):
        raise Http404
    return get_object_or_404(Member.objects.select_related("community"), pk=member_id)


def notices_for(member: Member) -> QuerySet[Notice]:
    return Notice.objects.filter(member=member).select_related("attempt").order_by("-created_at", "-pk")


@never_cache
@require_GET
def open_link(request: HttpRequest, token: str) -> HttpResponse:
    """The link in a recall message: counts as opened, then shows the member's inbox."""
    attempt = get_object_or_404(RecallAttempt.objects.select_related("member"), token=token)
    outcomes.attempt_opened(attempt=attempt)
    return redirect("recall_public:inbox", inbox_token(attempt.member))


@never_cache
@require_http_methods(["GET", "POST"])
@member_page(lambda token: _holder(_member(token)))
def inbox(request: HttpRequest, token: str) -> HttpResponse:
    member = _member(token)
    if request.method == "POST":
        action = request.POST.get("action", "")
        if action == "read_all":
            outcomes.notices_read_all(member_id=member.pk)
        elif action == "back":
            attempt = get_object_or_404(RecallAttempt, member=member, pk=_int(request.POST.get("attempt")))
            outcomes.attempt_responded(attempt=attempt)
            notice = Notice.objects.filter(attempt=attempt).first()
            if notice:
                outcomes.notice_read(notice=notice)
        elif action == "opt_out":
            policies.opt_out(member=member, source=OptOutSource.INBOX)
        elif action == "opt_in":
            policies.opt_in(member=member)
        else:
            raise Http404
        return redirect("recall_public:inbox", token)
    notices = list(notices_for(member)[:50])
    unread = sum(1 for notice in notices if notice.read_at is None)
    response = render(
        request,
        "recall/public/inbox.html",
        {
            "member": member,
            "community": member.community,
            "notices": notices,
            "unread": unread,
            "opted_out": OptOut.objects.filter(member=member).exists(),
            "token": token,
        },
    )
    # Shown is read: the next visit counts only what arrived since.
    for notice in notices:
        if notice.read_at is None:
            outcomes.notice_read(notice=notice)
    return response


def _int(value) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise Http404 from None


@never_cache
@require_http_methods(["GET", "POST"])
@member_page(_survey_holder)
def exit_survey(request: HttpRequest, token: str) -> HttpResponse:
    survey = get_object_or_404(ExitSurvey.objects.select_related("member", "community", "group"), token=token)
    initial = {"reasons": survey.reasons, "other_text": survey.other_text}
    form = ExitForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            exits.survey_answer(survey=survey, **form.cleaned_data)
        except ApplicationError as error:
            add_application_error(form, error)
        else:
            return render(request, "recall/public/exit_thanks.html", {"survey": survey, "community": survey.community})
    status = 400 if request.method == "POST" else 200
    return render(
        request,
        "recall/public/exit.html",
        {"survey": survey, "community": survey.community, "form": form},
        status=status,
    )
