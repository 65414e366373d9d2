"""What core keeps for every app: the answers to requests sent with an ``Idempotency-Key``."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class IdempotentRequest(models.Model):
    """One POST sent with an ``Idempotency-Key``: while it runs, and then its answer, so a retry
    gets the same answer without doing anything twice. Kept 24 hours."""

    scope = models.CharField(_("credential"), max_length=64, help_text=_("SHA-256 of who sent it."))
    key = models.CharField(_("idempotency key"), max_length=255)
    fingerprint = models.CharField(_("request fingerprint"), max_length=64)
    method = models.CharField(_("method"), max_length=8)
    path = models.CharField(_("path"), max_length=500)
    status_code = models.PositiveSmallIntegerField(_("status"), null=True, blank=True)
    content_type = models.CharField(_("content type"), max_length=100, blank=True)
    body = models.BinaryField(_("body"), blank=True, default=b"")
    created_at = models.DateTimeField(_("created"), auto_now_add=True, db_index=True)
    completed_at = models.DateTimeField(_("completed"), null=True, blank=True)

    class Meta:
        verbose_name = _("idempotent request")
        verbose_name_plural = _("idempotent requests")
        constraints = [models.UniqueConstraint(fields=["scope", "key"], name="idempotency_key_once_per_credential")]

    def __str__(self) -> str:
        return f"{self.method} {self.path} [{self.key}]"
