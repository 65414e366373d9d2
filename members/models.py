"""People. For now only the operator link: which Django users run which community.

The members issue brings Member, Membership and roles; roles will replace this link.
"""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from subgroups.models import Community


class Operator(models.Model):
    """A Django user who runs a community (运营者). Operators see and manage the whole tree."""

    community = models.ForeignKey(
        Community, verbose_name=_("community"), on_delete=models.CASCADE, related_name="operators"
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("user"), on_delete=models.CASCADE, related_name="operator_links"
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        verbose_name = _("operator")
        verbose_name_plural = _("operators")
        constraints = [models.UniqueConstraint(fields=["community", "user"], name="operator_unique")]

    def __str__(self) -> str:
        return f"{self.user} @ {self.community.slug}"
