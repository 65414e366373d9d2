import pytest

from core.errors import ApplicationError
from subgroups import rules
from subgroups.models import GroupKind

BANNED = ["高级", "精英"]


class TestGroupNames:
    def test_it_accepts_a_plain_name_and_tidies_its_spaces(self):
        assert rules.clean_group_name("  产品经理   研讨群 ", banned_words=BANNED) == "产品经理 研讨群"

    @pytest.mark.parametrize(
        "name",
        ["高级会员群", "精英俱乐部", "高 级会员群", "高\u200b级会员群", "ＶＩＰ高级群"],
    )
    def test_it_refuses_banned_words_even_when_spaced_out(self, name):
        with pytest.raises(ApplicationError) as refused:
            rules.clean_group_name(name, banned_words=BANNED)
        assert refused.value.field == "name"
        assert "高级" in refused.value.message or "精英" in refused.value.message

    def test_banned_words_match_case_and_width_insensitively(self):
        assert rules.find_banned_word("Ｅｌｉｔｅ Club", ["elite"]) == "elite"

    @pytest.mark.parametrize("name", ["", "   ", "x" * 101, "bad\x07name"])
    def test_it_refuses_empty_long_or_control_names(self, name):
        with pytest.raises(ApplicationError):
            rules.clean_group_name(name, banned_words=BANNED)


class TestSlugs:
    def test_chinese_names_become_pinyin_slugs(self):
        assert rules.slug_from_name("北京车友群") == "bei-jing-che-you-qun"

    def test_mixed_names_keep_their_latin_parts(self):
        assert rules.slug_from_name("黄金VIP群") == "huang-jin-vip-qun"

    def test_names_without_letters_still_get_a_slug(self):
        assert rules.slug_from_name("！！！") == "group"

    @pytest.mark.parametrize("slug", ["Bad Slug", "-x", "x--y", "", "a" * 81])
    def test_it_refuses_malformed_slugs(self, slug):
        with pytest.raises(ApplicationError):
            rules.clean_slug(slug)


class TestAdmissionCriteria:
    def test_tier_groups_screen_by_purchases_and_annual_membership(self):
        assert rules.clean_admission_criteria(GroupKind.TIER, {"min_purchases": 3, "annual_member": True}) == {
            "min_purchases": 3,
            "annual_member": True,
        }

    def test_region_groups_get_tidy_unique_cities(self):
        cleaned = rules.clean_admission_criteria(GroupKind.REGION, {"cities": [" 北京 ", "北京", "", "上海"]})
        assert cleaned == {"cities": ["北京", "上海"]}

    def test_a_region_group_cannot_screen_by_purchases(self):
        with pytest.raises(ApplicationError) as refused:
            rules.clean_admission_criteria(GroupKind.REGION, {"min_purchases": 1})
        assert refused.value.field == "admission_criteria"
        assert "min_purchases" in refused.value.message

    @pytest.mark.parametrize(
        "criteria",
        [
            {"min_purchases": -1},
            {"min_purchases": True},
            {"min_purchases": "3"},
            {"annual_member": "yes"},
        ],
    )
    def test_tier_values_are_type_checked(self, criteria):
        with pytest.raises(ApplicationError):
            rules.clean_admission_criteria(GroupKind.TIER, criteria)

    def test_lifecycle_stage_must_be_known(self):
        assert rules.clean_admission_criteria(GroupKind.LIFECYCLE, {"stage": "sprint"}) == {"stage": "sprint"}
        with pytest.raises(ApplicationError):
            rules.clean_admission_criteria(GroupKind.LIFECYCLE, {"stage": "graduated"})

    def test_hubs_have_no_criteria(self):
        with pytest.raises(ApplicationError):
            rules.clean_admission_criteria(GroupKind.HUB, {"tags": ["x"]})

    def test_criteria_must_be_an_object(self):
        with pytest.raises(ApplicationError):
            rules.clean_admission_criteria(GroupKind.INTEREST, ["tags"])

    def test_phrases_describe_the_criteria(self):
        phrases = rules.describe_admission_criteria({"min_purchases": 3, "cities": ["北京", "上海"], "tags": ["摄影"]})
        assert phrases == ["≥3 purchases", "北京、上海", "#摄影"]


def test_time_zones_are_checked():
    assert rules.clean_time_zone("Asia/Shanghai") == "Asia/Shanghai"
    with pytest.raises(ApplicationError):
        rules.clean_time_zone("Mars/Olympus")
