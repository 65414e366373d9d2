from django import forms

from core.errors import ApplicationError


def add_application_error(form: forms.Form, error: ApplicationError) -> None:
    """Show a service's refusal next to the field(s) it concerns, or above the form."""
    fields = error.extra.get("fields") or {}
    placed = False
    for name, messages in fields.items():
        if name in form.fields:
            for message in messages:
                form.add_error(name, message)
            placed = True
    if not placed:
        form.add_error(error.field if error.field in form.fields else None, error.message)
