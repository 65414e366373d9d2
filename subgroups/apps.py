from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SubgroupsConfig(AppConfig):
    name = "subgroups"
    verbose_name = _("Community tree")
