"""Growth in chromium: a member checks in and redeems a reward on their own page (no login,
CSRF on), and the owner accepts a suggested sub-group, which creates it and invites the members
who asked for it."""

from __future__ import annotations

import pytest
from playwright.sync_api import Browser, expect

from engagement.models import CheckIn, Redemption, RewardItem
from engagement.services.passes import member_pass
from engagement.services.shop import reward_save
from grouping.models import GroupSuggestion, SuggestionStatus
from grouping.services.suggestions import suggestions_refresh
from grouping.services.surveys import survey_update
from members.models import Invitation
from members.services.points import points_balance, points_grant
from subgroups.models import Group
from tests import personas
from tests.browser.test_review_in_browser import log_in
from tests.grouping.conftest import answer, member_in, survey, with_topic  # noqa: F401 - fixture

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
design, owner = personas.design, personas.owner  # the personas' fixtures, for this module


def test_a_member_checks_in_and_redeems_on_their_own_page(browser: Browser, live_server, community, design):
    member = member_in(design, name="林晓雨")
    points_grant(member=member, amount=100, reason="welcome")
    item = reward_save(community=community, name="《作文模板大全》", cost=40, stock=1)
    token = member_pass(member=member).token

    page = browser.new_context().new_page()
    page.goto(f"{live_server.url}/me/{token}/")
    expect(page.locator("[data-balance]")).to_have_text("100")
    page.locator("[data-check-in]").click()
    expect(page.locator("[data-balance]")).to_have_text("105")
    expect(page.locator("[data-check-in]")).to_contain_text("Checked in today")
    page.locator("[data-check-in]").click()  # a second press the same day changes nothing
    expect(page.locator("[data-balance]")).to_have_text("105")

    page.locator(f"[data-item='{item.pk}']").get_by_role("button", name="Redeem").click()
    expect(page.locator("[data-balance]")).to_have_text("65")

    assert CheckIn.objects.filter(member=member).count() == 1
    assert Redemption.objects.filter(member=member, item=item).count() == 1
    assert RewardItem.objects.get(pk=item.pk).stock == 0
    assert points_balance(member=member) == 65


def test_the_owner_accepts_a_suggested_sub_group(browser: Browser, live_server, community, design, owner, survey):  # noqa: F811
    survey = with_topic(survey, "读书")
    survey_update(survey=survey, min_members=3)
    askers = [member_in(design, name=f"读者{index}", handle=f"wx-reader-{index}") for index in range(4)]
    for index, member in enumerate(askers):
        answer(survey, member, ["读书"], admin="yes" if index == 0 else "no")
    suggestions_refresh(community=community)
    suggestion = GroupSuggestion.objects.get(
        community=community, status=SuggestionStatus.PENDING, proposed_name__contains="读书"
    )

    page = log_in(browser, live_server, "owner")
    page.goto(f"{live_server.url}/c/{community.slug}/growth/grouping/")
    expect(page.get_by_text(suggestion.proposed_name).first).to_be_visible()
    page.get_by_role("button", name="Accept: create and invite").first.click()
    expect(page.locator(".message.success, .messages").first).to_contain_text(suggestion.proposed_name)

    suggestion.refresh_from_db()
    group = Group.objects.get(pk=suggestion.group_id)
    assert suggestion.status == SuggestionStatus.ACCEPTED and group.name == suggestion.proposed_name
    assert group.parent_id == community.hub_id
    invited = set(Invitation.objects.filter(group=group).values_list("member_id", flat=True))
    assert invited == {member.pk for member in askers}
