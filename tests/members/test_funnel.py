from datetime import timedelta

import pytest
from django.utils import timezone

from core.errors import ApplicationError, RateLimited
from members import services
from members.models import (
    Application,
    ApplicationStatus,
    Invitation,
    KnockoutAction,
    KnockoutOperator,
    Membership,
    QuestionKind,
)
from members.services.funnel import answers_clean, visible_questions
from members.services.questionnaire import question_create, rule_create
from outbox.models import MessageKind, OutboundMessage
from subgroups import services as tree
from subgroups.models import GroupKind
from tests.factories import GroupFactory, MemberFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def questionnaire(design):
    """The article's questions on 设计美学交流群, a logic jump, and two knockout rules."""
    topics, size, frequency, willing = services.questionnaire_add_article_questions(group=design)
    experience = question_create(
        group=design,
        text="您有哪些社群管理经验？",
        kind=QuestionKind.TEXT,
        required=True,
        show_if_question=willing,
        show_if_answers=["愿意", "看情况"],
    )
    rule_create(question=willing, operator="any_of", value=["愿意"], action="approve", reason="愿意担任管理员")
    rule_create(question=size, operator="any_of", value=["150-500人"], action="reject", reason="只收小群偏好者")
    return {"topics": topics, "size": size, "frequency": frequency, "willing": willing, "experience": experience}


def answers(questionnaire, **overrides):
    values = {
        f"q_{questionnaire['topics'].pk}": ["设计"],
        f"q_{questionnaire['size'].pk}": "50人以内",
        f"q_{questionnaire['frequency'].pk}": "每天几条",
        f"q_{questionnaire['willing'].pk}": "不愿意",
    }
    for name, value in overrides.items():
        values[f"q_{questionnaire[name].pk}"] = value
    return values


def submit(group, **values):
    defaults = {"display_name": "林嘉琪", "phone": "13812345678"}
    return services.application_submit(group=group, **{**defaults, **values})


class TestQuestionnaire:
    def test_a_logic_jump_hides_a_question_until_its_answer(self, questionnaire, design):
        questions = list(design.questions.order_by("position"))
        shown = visible_questions(questions, answers(questionnaire))
        assert questionnaire["experience"] not in shown
        shown = visible_questions(questions, answers(questionnaire, willing="看情况"))
        assert questionnaire["experience"] in shown

    def test_a_hidden_question_is_not_required_and_its_answer_is_dropped(self, questionnaire, design):
        questions = list(design.questions.order_by("position"))
        raw = answers(questionnaire, experience="管过群")
        cleaned = answers_clean(questions, raw)
        assert f"q_{questionnaire['experience'].pk}" not in cleaned

    def test_a_shown_required_question_must_be_answered(self, questionnaire, design):
        questions = list(design.questions.order_by("position"))
        with pytest.raises(ApplicationError) as refused:
            answers_clean(questions, answers(questionnaire, willing="愿意"))
        assert list(refused.value.extra["fields"]) == [f"q_{questionnaire['experience'].pk}"]

    @pytest.mark.parametrize(
        ("name", "value"),
        [("size", "很多人"), ("topics", ["设计", "烹饪"]), ("size", ["50人以内"]), ("topics", 5)],
    )
    def test_answers_must_be_among_the_choices(self, questionnaire, design, name, value):
        with pytest.raises(ApplicationError) as refused:
            answers_clean(list(design.questions.all()), answers(questionnaire, **{name: value}))
        assert f"q_{questionnaire[name].pk}" in refused.value.extra["fields"]

    def test_number_and_text_questions(self, design):
        age = question_create(group=design, text="年龄", kind=QuestionKind.NUMBER, required=True)
        note = question_create(group=design, text="备注", kind=QuestionKind.TEXT)
        cleaned = answers_clean([age, note], {f"q_{age.pk}": "28", f"q_{note.pk}": "  你好 "})
        assert cleaned == {f"q_{age.pk}": 28, f"q_{note.pk}": "你好"}
        for bad in ("abc", "nan", True, "1e20"):
            with pytest.raises(ApplicationError):
                answers_clean([age], {f"q_{age.pk}": bad})

    def test_a_jump_must_depend_on_an_earlier_choice_question_of_the_group(self, design, coders):
        text = question_create(group=design, text="介绍", kind=QuestionKind.TEXT)
        other = question_create(group=coders, text="语言", kind=QuestionKind.SINGLE, choices=["Python", "Go"])
        for parent, answers_ in ((text, ["x"]), (other, ["Python"])):
            with pytest.raises(ApplicationError):
                question_create(
                    group=design, text="?", kind=QuestionKind.TEXT, show_if_question=parent, show_if_answers=answers_
                )

    def test_choice_questions_need_two_answers(self, design):
        with pytest.raises(ApplicationError) as refused:
            question_create(group=design, text="?", kind=QuestionKind.SINGLE, choices=["只有一个"])
        assert refused.value.field == "choices"

    def test_rules_fit_their_question(self, questionnaire):
        with pytest.raises(ApplicationError):
            rule_create(question=questionnaire["size"], operator="at_least", value=3, action="reject", reason="x")
        with pytest.raises(ApplicationError):
            rule_create(question=questionnaire["size"], operator="any_of", value=["很多"], action="reject", reason="x")
        with pytest.raises(ApplicationError):
            rule_create(
                question=questionnaire["size"], operator="any_of", value=["50人以内"], action="reject", reason=""
            )


class TestSubmit:
    def test_an_application_waits_for_review(self, questionnaire, design):
        application = submit(design, answers=answers(questionnaire), city="北京")
        assert application.status == ApplicationStatus.PENDING
        assert application.contact_key == "phone:13812345678"
        assert application.answers[0] == {
            "id": questionnaire["topics"].pk,
            "question": "您最希望深入交流哪方面内容？",
            "answer": ["设计"],
        }

    def test_a_knockout_rule_rejects_on_the_spot(self, questionnaire, design):
        application = submit(design, answers=answers(questionnaire, size="150-500人"))
        assert application.status == ApplicationStatus.REJECTED
        assert application.decided_automatically and application.decision_reason == "只收小群偏好者"

    def test_a_knockout_rule_approves_on_the_spot_and_invites(self, questionnaire, design):
        application = submit(design, answers=answers(questionnaire, willing="愿意", experience="带过读书会"))
        assert application.status == ApplicationStatus.APPROVED
        assert application.decided_by is None and application.decided_automatically
        assert Invitation.objects.filter(application=application).exists()

    def test_a_reject_rule_wins_over_an_approve_rule(self, questionnaire, design):
        application = submit(design, answers=answers(questionnaire, willing="愿意", experience="有", size="150-500人"))
        assert application.status == ApplicationStatus.REJECTED

    def test_tier_groups_approve_members_who_meet_the_threshold(self, community):
        gold = GroupFactory(
            parent=community.hub, name="黄金VIP群", kind=GroupKind.TIER, admission_criteria={"min_purchases": 3}
        )
        MemberFactory(community=community, purchase_count=3, handles=[("wechat", "wx-3")])
        MemberFactory(community=community, purchase_count=2, handles=[("wechat", "wx-2")])

        def apply_as(account):
            return submit(gold, phone="", platform="wechat", external_user_id=account, verified=True)

        approved, waiting, stranger = apply_as("wx-3"), apply_as("wx-2"), apply_as("wx-9")
        assert approved.status == ApplicationStatus.APPROVED and "3" in approved.decision_reason
        assert waiting.status == ApplicationStatus.PENDING
        assert stranger.status == ApplicationStatus.PENDING and stranger.member is None

    def test_a_typed_phone_or_account_does_not_make_you_that_member(self, community):
        """Someone who knows a gold member's phone and account id gets no gold treatment."""
        gold = GroupFactory(
            parent=community.hub, name="黄金VIP群", kind=GroupKind.TIER, admission_criteria={"min_purchases": 3}
        )
        MemberFactory(community=community, phone="13900000003", purchase_count=9, handles=[("wechat", "wx-3")])
        impostor = submit(gold, phone="13900000003", platform="wechat", external_user_id="wx-3")
        assert impostor.status == ApplicationStatus.PENDING and impostor.member is None

    def test_region_groups_approve_people_from_their_cities(self, community):
        beijing = GroupFactory(parent=community.hub, kind=GroupKind.REGION, admission_criteria={"cities": ["北京"]})
        assert submit(beijing, city="北京").status == ApplicationStatus.APPROVED
        assert submit(beijing, city="上海", phone="13700000000").status == ApplicationStatus.PENDING

    def test_a_contact_is_required(self, design):
        with pytest.raises(ApplicationError) as refused:
            submit(design, phone="")
        assert refused.value.field == "phone"

    def test_a_duplicate_pending_application_is_refused_without_revealing_it(self, design):
        first = submit(design)
        with pytest.raises(ApplicationError) as refused:
            submit(design, phone="+86 138 1234 5678", display_name="别名")
        assert "already waiting" in refused.value.message
        assert first.status_token not in str(refused.value.extra)
        assert Application.objects.filter(group=design).count() == 1

    def test_a_member_of_the_group_cannot_apply_to_it_again(self, community, design):
        member = MemberFactory(community=community, handles=[("wechat", "wx-in")])
        services.membership_add(member=member, group=design, source="manual")
        with pytest.raises(ApplicationError) as refused:
            submit(design, platform="wechat", external_user_id="wx-in", verified=True)
        assert "already a member" in refused.value.message

    def test_after_a_decision_the_same_person_may_apply_again(self, design, owner):
        first = submit(design)
        services.application_reject(application=first, by=owner, reason="名额已满")
        assert submit(design).status == ApplicationStatus.PENDING

    def test_the_hub_and_archived_groups_take_no_applications(self, community, design):
        with pytest.raises(ApplicationError):
            submit(community.hub)
        tree.group_archive(group=design)
        with pytest.raises(ApplicationError):
            submit(design)

    def test_too_many_from_one_address_is_refused(self, design, settings):
        settings.CANOPY_APPLY_LIMIT_PER_IP = 2
        submit(design, phone="13000000001", ip_address="10.0.0.1")
        submit(design, phone="13000000002", ip_address="10.0.0.1")
        with pytest.raises(RateLimited) as refused:
            submit(design, phone="13000000003", ip_address="10.0.0.1")
        assert refused.value.status_code == 429
        assert submit(design, phone="13000000004", ip_address="10.0.0.2")

    def test_too_many_for_one_contact_is_refused(self, community, design, coders, photo, settings):
        settings.CANOPY_APPLY_LIMIT_PER_CONTACT = 2
        submit(design)
        submit(coders)
        with pytest.raises(RateLimited):
            submit(photo)
        assert Application.objects.count() == 2


class TestDecisions:
    def test_approving_creates_a_seven_day_single_use_invitation(self, design, owner):
        application = submit(design)
        invitation = services.application_approve(application=application, by=owner)
        application.refresh_from_db()
        assert application.status == ApplicationStatus.APPROVED and application.decided_by == owner
        assert invitation.state == "open"
        assert timedelta(days=6, hours=23) < invitation.expires_at - timezone.now() <= timedelta(days=7)

    def test_an_invitation_is_sent_through_the_applicants_platform(self, design, owner):
        application = submit(design, platform="wechat", external_user_id="wx-lin")
        invitation = services.application_approve(application=application, by=owner)
        message = OutboundMessage.objects.get(kind=MessageKind.INVITATION)
        assert message.recipient_external_id == "wx-lin" and invitation.token in message.body

    def test_rejecting_needs_a_reason(self, design, owner):
        application = submit(design)
        with pytest.raises(ApplicationError) as refused:
            services.application_reject(application=application, by=owner, reason="  ")
        assert refused.value.field == "reason"
        application.refresh_from_db()
        assert application.status == ApplicationStatus.PENDING

    def test_a_decided_application_cannot_be_decided_again(self, design, owner, subtree_admin):
        application = submit(design)
        services.application_reject(application=application, by=owner, reason="不合适")
        with pytest.raises(ApplicationError) as refused:
            services.application_approve(application=application, by=subtree_admin)
        assert "owner" in refused.value.message
        assert not Invitation.objects.exists()

    def test_bulk_approval_reports_what_it_skipped(self, design, owner):
        waiting = [submit(design, phone=f"1300000000{index}") for index in range(3)]
        services.application_reject(application=waiting[0], by=owner, reason="不合适")
        approved, skipped = services.applications_bulk_approve(applications=waiting, by=owner)
        assert approved == 2 and len(skipped) == 1

    def test_the_applicant_may_withdraw_while_pending(self, design):
        application = submit(design)
        services.application_withdraw(status_token=application.status_token)
        application.refresh_from_db()
        assert application.status == ApplicationStatus.WITHDRAWN
        with pytest.raises(ApplicationError):
            services.application_withdraw(status_token=application.status_token)


class TestInvitations:
    def test_accepting_makes_a_member_and_queues_the_welcome(self, design, owner):
        tree.group_update(group=design, rules_text="1. 禁止广告", welcome_template="欢迎{name}来到{group}！\n{rules}")
        application = submit(design, platform="wechat", external_user_id="wx-lin", city="上海")
        invitation = services.application_approve(application=application, by=owner)
        joined = services.invitation_accept(
            token=invitation.token, platform="wechat", external_user_id="wx-lin", verified=True
        )
        membership = joined.membership
        assert membership.group == design and membership.source == "application" and membership.is_active
        assert membership.member.display_name == "林嘉琪" and membership.member.city == "上海"
        assert joined.welcome.body == "欢迎林嘉琪来到设计美学交流群！\n1. 禁止广告"
        assert joined.welcome.kind == MessageKind.WELCOME and joined.welcome.recipient_external_id == "wx-lin"
        application.refresh_from_db()
        assert application.member == membership.member
        design.refresh_from_db()
        assert design.member_count == 1

    def test_an_invitation_works_once(self, design, owner):
        invitation = services.application_approve(application=submit(design), by=owner)
        services.invitation_accept(token=invitation.token)
        with pytest.raises(ApplicationError) as refused:
            services.invitation_accept(token=invitation.token)
        assert "already been used" in refused.value.message
        assert Membership.objects.filter(group=design).count() == 1

    def test_an_expired_or_revoked_invitation_is_refused(self, design, owner):
        expired = services.application_approve(application=submit(design), by=owner)
        Invitation.objects.filter(pk=expired.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
        with pytest.raises(ApplicationError) as refused:
            services.invitation_accept(token=expired.token)
        assert "expired" in refused.value.message
        revoked = services.application_approve(application=submit(design, phone="13700000000"), by=owner)
        services.invitation_revoke(invitation=revoked)
        with pytest.raises(ApplicationError):
            services.invitation_accept(token=revoked.token)
        assert not Membership.objects.filter(group=design).exists()

    def test_an_unknown_token_is_refused(self, db):
        with pytest.raises(ApplicationError):
            services.invitation_accept(token="nope")

    def test_a_full_group_keeps_the_invitation_open(self, design, owner):
        tree.group_update(group=design, capacity=1)
        services.membership_add(member=MemberFactory(community=design.community), group=design, source="manual")
        invitation = services.application_approve(application=submit(design), by=owner)
        with pytest.raises(ApplicationError) as refused:
            services.invitation_accept(token=invitation.token)
        assert "full" in refused.value.message
        invitation.refresh_from_db()
        assert invitation.state == "open"

    def test_an_integration_joining_from_a_known_account_reuses_the_member(self, community, design, owner):
        known = MemberFactory(community=community, handles=[("wechat", "wx-known")])
        invitation = services.application_approve(application=submit(design), by=owner)
        joined = services.invitation_accept(
            token=invitation.token, platform="wechat", external_user_id="wx-known", verified=True
        )
        assert joined.membership.member == known

    def test_accepting_on_the_public_page_never_claims_an_account(self, community, design, owner):
        known = MemberFactory(community=community, phone="13812345678", handles=[("wechat", "wx-known")])
        invitation = services.application_approve(
            application=submit(design, platform="wechat", external_user_id="wx-known"), by=owner
        )
        joined = services.invitation_accept(token=invitation.token, platform="wechat", external_user_id="wx-known")
        assert joined.membership.member != known
        assert not joined.membership.member.handles.exists()

    def test_an_invitation_into_a_group_you_are_in_is_refused(self, community, design, owner):
        member = MemberFactory(community=community, handles=[("wechat", "wx-in")])
        application = submit(design)
        invitation = services.application_approve(application=application, by=owner)
        services.membership_add(member=member, group=design, source="manual")
        with pytest.raises(ApplicationError) as refused:
            services.invitation_accept(
                token=invitation.token, platform="wechat", external_user_id="wx-in", verified=True
            )
        assert "already a member" in refused.value.message


class TestWelcome:
    def test_the_default_welcome_has_identity_services_and_rules(self, design):
        from members.services.funnel import welcome_text

        design = tree.group_update(group=design, rules_text="1. 禁止广告")
        text = welcome_text(design, "小林")
        assert text.startswith("Welcome 小林 to “设计美学交流群”!")  # the community speaks English
        assert "1. 禁止广告" in text

    def test_unknown_placeholders_are_refused_and_nothing_else_is_interpreted(self, design):
        with pytest.raises(ApplicationError) as refused:
            tree.group_update(group=design, welcome_template="欢迎{name.__class__}")
        assert refused.value.field == "welcome_template"
        from subgroups.rules import render_welcome

        assert render_welcome("{name} {0} {{", name="a", group="g", rules="") == "a {0} {{"


def test_knockout_operators_cover_numbers_and_text(design):
    from members.services.funnel import knockout_verdict

    age = question_create(group=design, text="年龄", kind=QuestionKind.NUMBER)
    intro = question_create(group=design, text="介绍", kind=QuestionKind.TEXT)
    rule_create(
        question=age, operator=KnockoutOperator.LESS_THAN, value=18, action=KnockoutAction.REJECT, reason="未成年"
    )
    rule_create(
        question=intro, operator=KnockoutOperator.CONTAINS, value="广告", action=KnockoutAction.REJECT, reason="广告"
    )
    questions = list(design.questions.prefetch_related("rules"))
    assert knockout_verdict(questions, {f"q_{age.pk}": 16}).reason == "未成年"
    assert knockout_verdict(questions, {f"q_{age.pk}": 30, f"q_{intro.pk}": "承接广告投放"}).reason == "广告"
    assert knockout_verdict(questions, {f"q_{age.pk}": 30, f"q_{intro.pk}": "设计师"}) is None
