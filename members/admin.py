from django.contrib import admin

from members.models import Operator


@admin.register(Operator)
class OperatorAdmin(admin.ModelAdmin):
    list_display = ("user", "community", "created_at")
    list_select_related = ("user", "community", "community__hub")
    search_fields = ("user__username", "user__email", "community__slug", "community__hub__name")
    autocomplete_fields = ("user", "community")
