import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from core.errors import ApplicationError
from subgroups import selectors, services
from subgroups.models import Community, Group, GroupKind, GroupStatus, Platform
from tests.factories import CommunityFactory, GroupFactory, add_members

pytestmark = pytest.mark.django_db


def names(group: Group) -> list[str]:
    return [child.name for child in Group.objects.get(pk=group.pk).get_children()]


class TestCommunityCreate:
    def test_it_creates_the_hub_as_the_root(self):
        community = services.community_create(name="知识付费学员群", slug="learners", capacity=3000)
        hub = community.hub
        assert hub.is_root_node() and hub.kind == GroupKind.HUB and hub.community == community
        assert (hub.capacity, hub.status, hub.platform) == (3000, GroupStatus.OPEN, Platform.WECOM)
        assert community.banned_name_words == ["高级", "精英"]

    def test_it_makes_a_slug_from_the_name_and_keeps_slugs_unique(self):
        first = services.community_create(name="考研备考交流群")
        second = services.community_create(name="考研备考交流群")
        assert first.slug == "kao-yan-bei-kao-jiao-liu-qun"
        assert second.slug == "kao-yan-bei-kao-jiao-liu-qun-2"

    def test_a_taken_slug_is_refused_with_a_field_message(self):
        services.community_create(name="甲", slug="same")
        with pytest.raises(ApplicationError) as refused:
            services.community_create(name="乙", slug="same")
        assert refused.value.field == "slug"

    def test_the_hub_name_obeys_the_banned_words(self):
        with pytest.raises(ApplicationError):
            services.community_create(name="精英大本营")
        assert not Community.objects.exists()

    def test_an_unknown_time_zone_is_refused(self):
        with pytest.raises(ApplicationError) as refused:
            services.community_create(name="甲", time_zone="Nowhere/Land")
        assert refused.value.field == "time_zone"


class TestCreateChild:
    def test_children_default_to_the_parents_platform_and_its_capacity(self, community):
        hub = community.hub
        group = services.group_create_child(parent=hub, name="运营增长实战群", kind=GroupKind.INTEREST)
        assert group.platform == hub.platform == Platform.WECOM
        assert group.capacity == 500
        assert group.parent_id == hub.pk and group.level == 1

    def test_wechat_groups_default_to_500_and_qq_to_2000(self, community):
        wechat = GroupFactory(parent=community.hub, platform=Platform.WECHAT)
        qq = GroupFactory(parent=community.hub, platform=Platform.QQ)
        assert (wechat.capacity, qq.capacity) == (500, 2000)

    def test_children_nest_to_any_depth(self, community):
        parent = community.hub
        for depth in range(1, 7):
            parent = GroupFactory(parent=parent, kind=GroupKind.CUSTOM)
            assert parent.level == depth
        assert selectors.tree_problems() == []

    def test_banned_words_are_refused_with_the_word_named(self, community):
        with pytest.raises(ApplicationError) as refused:
            services.group_create_child(parent=community.hub, name="高级会员群", kind=GroupKind.TIER)
        assert refused.value.field == "name" and "高级" in refused.value.message

    def test_each_community_has_its_own_banned_words(self, community, other_community):
        services.community_update(community=other_community, banned_name_words=["土豪"])
        services.group_create_child(parent=other_community.hub, name="高级车友群", kind=GroupKind.CUSTOM)
        with pytest.raises(ApplicationError):
            services.group_create_child(parent=other_community.hub, name="土豪车友群", kind=GroupKind.CUSTOM)
        with pytest.raises(ApplicationError):
            services.group_create_child(parent=community.hub, name="高级群", kind=GroupKind.CUSTOM)

    def test_a_second_hub_is_refused(self, community):
        with pytest.raises(ApplicationError) as refused:
            services.group_create_child(parent=community.hub, name="另一个主群", kind=GroupKind.HUB)
        assert refused.value.field == "kind"

    def test_slugs_are_unique_within_a_community_but_not_across(self, community, other_community):
        first = GroupFactory(parent=community.hub, name="北京车友群")
        again = GroupFactory(parent=community.hub, name="北京 车友群")
        elsewhere = Group.objects.get(community=other_community, name="北京车友群")
        assert first.slug == elsewhere.slug == "bei-jing-che-you-qun"
        assert again.slug == "bei-jing-che-you-qun-2"

    def test_an_explicit_duplicate_slug_is_refused(self, community):
        GroupFactory(parent=community.hub, slug="photo")
        with pytest.raises(ApplicationError) as refused:
            GroupFactory(parent=community.hub, slug="photo")
        assert refused.value.field == "slug"

    def test_external_ids_are_unique_per_platform_within_a_community(self, community, other_community):
        GroupFactory(parent=community.hub, platform=Platform.WECHAT, external_id="wx-1")
        GroupFactory(parent=community.hub, platform=Platform.QQ, external_id="wx-1")
        GroupFactory(parent=other_community.hub, platform=Platform.WECHAT, external_id="wx-1")
        with pytest.raises(ApplicationError) as refused:
            GroupFactory(parent=community.hub, platform=Platform.WECHAT, external_id="wx-1")
        assert refused.value.field == "external_id"

    def test_criteria_are_checked_against_the_kind(self, community):
        tier = GroupFactory(parent=community.hub, kind=GroupKind.TIER, admission_criteria={"min_purchases": 3})
        assert tier.admission_criteria == {"min_purchases": 3}
        with pytest.raises(ApplicationError):
            GroupFactory(parent=community.hub, kind=GroupKind.TIER, admission_criteria={"cities": ["北京"]})

    @pytest.mark.parametrize("capacity", [0, -5, 1_000_001, True])
    def test_capacity_must_be_positive_and_bounded(self, community, capacity):
        with pytest.raises(ApplicationError) as refused:
            GroupFactory(parent=community.hub, capacity=capacity)
        assert refused.value.field == "capacity"

    def test_no_child_under_an_archived_group(self, community):
        design = Group.objects.get(name="设计美学交流群")
        services.group_archive(group=design)
        with pytest.raises(ApplicationError):
            GroupFactory(parent=design)


class TestNamingConvention:
    def test_the_first_name_for_an_attribute_is_numbered_01(self, community):
        proposed = services.group_propose_name(community=community, attribute="摄影")
        assert proposed == "互联网从业者交流群-摄影小群01"

    def test_numbers_count_per_attribute_and_continue_after_the_highest(self, community):
        for name in ["互联网从业者交流群-摄影小群01", "互联网从业者交流群-摄影小群03", "互联网从业者交流群-健身小群01"]:
            GroupFactory(parent=community.hub, name=name)
        assert services.group_propose_name(community=community, attribute="摄影") == "互联网从业者交流群-摄影小群04"
        assert services.group_propose_name(community=community, attribute="健身") == "互联网从业者交流群-健身小群02"
        assert services.group_propose_name(community=community, attribute="读书") == "互联网从业者交流群-读书小群01"

    def test_numbers_keep_counting_past_99(self, community):
        GroupFactory(parent=community.hub, name="互联网从业者交流群-摄影小群99")
        assert services.group_propose_name(community=community, attribute="摄影") == "互联网从业者交流群-摄影小群100"

    def test_similar_names_do_not_count(self, community):
        GroupFactory(parent=community.hub, name="互联网从业者交流群-摄影小群01 备用")
        assert services.group_propose_name(community=community, attribute="摄影") == "互联网从业者交流群-摄影小群01"

    def test_a_banned_attribute_is_refused(self, community):
        with pytest.raises(ApplicationError) as refused:
            services.group_propose_name(community=community, attribute="精英")
        assert refused.value.field == "attribute"

    def test_an_empty_attribute_is_refused(self, community):
        with pytest.raises(ApplicationError):
            services.group_propose_name(community=community, attribute="  ")


class TestRenameAndUpdate:
    def test_rename_keeps_the_slug(self, community):
        design = Group.objects.get(name="设计美学交流群")
        renamed = services.group_rename(group=design, name="设计交流群")
        assert renamed.name == "设计交流群" and renamed.slug == design.slug

    def test_rename_obeys_the_banned_words(self, community):
        design = Group.objects.get(name="设计美学交流群")
        with pytest.raises(ApplicationError):
            services.group_rename(group=design, name="精英设计群")
        assert Group.objects.get(pk=design.pk).name == "设计美学交流群"

    def test_capacity_cannot_drop_below_the_members(self, community):
        design = Group.objects.get(name="设计美学交流群")
        add_members(design, 120)
        with pytest.raises(ApplicationError) as refused:
            services.group_update(group=design, capacity=100)
        assert refused.value.field == "capacity"

    def test_a_group_at_capacity_is_full_and_opens_again_with_more_room(self, community):
        design = Group.objects.get(name="设计美学交流群")
        design = services.group_update(group=design, capacity=120)
        add_members(design, 120)
        design.refresh_from_db()
        assert (design.member_count, design.status) == (120, GroupStatus.FULL)
        design = services.group_update(group=design, capacity=200)
        assert design.status == GroupStatus.OPEN

    def test_newcomers_who_do_not_fit_are_refused_all_together(self, community):
        design = Group.objects.get(name="设计美学交流群")
        with pytest.raises(ApplicationError), transaction.atomic():
            add_members(design, 501)
        design.refresh_from_db()
        assert design.member_count == 0

    def test_the_database_itself_refuses_overfilling_and_zero_capacity(self, community):
        design = Group.objects.get(name="设计美学交流群")
        with pytest.raises(IntegrityError), transaction.atomic():
            Group.objects.filter(pk=design.pk).update(member_count=9999)
        with pytest.raises(IntegrityError), transaction.atomic():
            Group.objects.filter(pk=design.pk).update(capacity=0)
        # Only a group marked over capacity (by joins the platform reported) may pass it.
        Group.objects.filter(pk=design.pk).update(member_count=9999, over_capacity_since=timezone.now())

    def test_platform_joins_past_capacity_mark_the_group_and_leaves_clear_it(self, community):
        design = Group.objects.get(name="设计美学交流群")
        Group.objects.filter(pk=design.pk).update(capacity=2, member_count=2)
        services.group_count_arrivals(group_id=design.pk, seats=1)
        design.refresh_from_db()
        assert (design.member_count, design.over_capacity, design.status) == (3, True, "full")
        assert design.over_capacity_since is not None
        services.group_release_seat(group_id=design.pk)
        design.refresh_from_db()
        assert (design.member_count, design.over_capacity_since) == (2, None)

    def test_the_database_keeps_hubs_at_the_root_and_only_there(self, community):
        with pytest.raises(IntegrityError), transaction.atomic():
            Group.objects.filter(pk=community.hub_id).update(kind=GroupKind.CUSTOM)

    def test_the_database_allows_one_hub_per_community(self, community):
        design = Group.objects.get(name="设计美学交流群")
        with pytest.raises(IntegrityError), transaction.atomic():
            Group.objects.filter(pk=design.pk).update(kind=GroupKind.HUB, parent=None)


class TestMove:
    def test_a_subtree_moves_with_its_children(self, community):
        design = Group.objects.get(name="设计美学交流群")
        coders = Group.objects.get(name="程序员技术群")
        services.group_move(group=design, new_parent=coders)
        assert names(coders) == ["设计美学交流群"]
        photo = Group.objects.get(name="摄影群")
        assert photo.level == 3 and photo.parent.name == "设计美学交流群"
        assert [group.name for group in photo.get_ancestors()] == [
            "互联网从业者交流群",
            "程序员技术群",
            "设计美学交流群",
        ]
        assert selectors.tree_problems() == []

    def test_a_group_cannot_move_under_itself_or_its_descendants(self, community):
        design = Group.objects.get(name="设计美学交流群")
        photo = Group.objects.get(name="摄影群")
        for target in (design, photo):
            with pytest.raises(ApplicationError) as refused:
                services.group_move(group=design, new_parent=target)
            assert refused.value.field == "parent"
        assert Group.objects.get(pk=design.pk).parent_id == community.hub_id

    def test_the_hub_cannot_move(self, community):
        design = Group.objects.get(name="设计美学交流群")
        with pytest.raises(ApplicationError):
            services.group_move(group=community.hub, new_parent=design)

    def test_moves_between_communities_are_refused(self, community, other_community):
        design = Group.objects.get(name="设计美学交流群")
        with pytest.raises(ApplicationError) as refused:
            services.group_move(group=design, new_parent=other_community.hub)
        assert "another community" in refused.value.message
        assert Group.objects.get(pk=design.pk).community_id == community.pk
        assert selectors.tree_problems() == []

    def test_no_move_into_an_archived_group(self, community):
        design = Group.objects.get(name="设计美学交流群")
        coders = Group.objects.get(name="程序员技术群")
        services.group_archive(group=coders)
        with pytest.raises(ApplicationError):
            services.group_move(group=design, new_parent=coders)

    def test_moving_to_the_current_parent_changes_nothing(self, community):
        design = Group.objects.get(name="设计美学交流群")
        before = Group.objects.get(pk=design.pk)
        after = services.group_move(group=design, new_parent=community.hub)
        assert (after.lft, after.rght, after.parent_id) == (before.lft, before.rght, before.parent_id)


class TestArchive:
    def test_archiving_takes_the_whole_subtree_and_nothing_else(self, community):
        design = Group.objects.get(name="设计美学交流群")
        assert services.group_archive(group=design) == 2
        statuses = dict(Group.objects.values_list("name", "status"))
        assert statuses["设计美学交流群"] == statuses["摄影群"] == GroupStatus.ARCHIVED
        assert statuses["程序员技术群"] == GroupStatus.OPEN
        assert Group.objects.get(name="摄影群").archived_at is not None

    def test_archiving_twice_changes_nothing_more(self, community):
        design = Group.objects.get(name="设计美学交流群")
        services.group_archive(group=design)
        assert services.group_archive(group=design) == 0

    def test_the_hub_cannot_be_archived(self, community):
        with pytest.raises(ApplicationError):
            services.group_archive(group=community.hub)

    def test_restore_brings_back_open_or_full_by_size(self, community):
        design = Group.objects.get(name="设计美学交流群")
        photo = Group.objects.get(name="摄影群")
        services.group_update(group=photo, capacity=10)
        add_members(photo, 10)
        services.group_archive(group=design)
        assert services.group_restore(group=design) == 2
        assert Group.objects.get(pk=design.pk).status == GroupStatus.OPEN
        restored_photo = Group.objects.get(pk=photo.pk)
        assert restored_photo.status == GroupStatus.FULL and restored_photo.archived_at is None

    def test_a_child_cannot_be_restored_inside_an_archived_parent(self, community):
        design = Group.objects.get(name="设计美学交流群")
        services.group_archive(group=design)
        with pytest.raises(ApplicationError):
            services.group_restore(group=Group.objects.get(name="摄影群"))


class TestDelete:
    def test_deleting_removes_the_subtree_and_keeps_the_tree_sound(self, community):
        design = Group.objects.get(name="设计美学交流群")
        assert services.group_delete(group=design) == 2
        assert names(community.hub) == ["程序员技术群"]
        assert selectors.tree_problems() == []

    def test_the_hub_cannot_be_deleted_alone(self, community):
        with pytest.raises(ApplicationError):
            services.group_delete(group=community.hub)


def test_communities_get_separate_trees(community, other_community):
    assert community.hub.tree_id != other_community.hub.tree_id
    third = CommunityFactory()
    assert len({community.hub.tree_id, other_community.hub.tree_id, third.hub.tree_id}) == 3
