from django import template
from django.utils.html import format_html

register = template.Library()


@register.filter
def pct(value, digits: int = 1) -> str:
    """0.256 → "25.6%"; empty stays a dash."""
    if value is None or value == "":
        return "–"
    return f"{float(value) * 100:.{int(digits)}f}%"


@register.filter
def num(value, digits: int = 2) -> str:
    if value is None or value == "":
        return "–"
    return f"{float(value):.{int(digits)}f}"


@register.filter
def signed_pct(value) -> str:
    """A change in a rate, in percentage points."""
    if value is None:
        return ""
    return f"{float(value) * 100:+.1f} pp"


@register.filter
def signed_int(value) -> str:
    if value is None:
        return ""
    return f"{int(value):+,d}"


@register.simple_tag
def grade_chip(grade: str) -> str:
    if not grade:
        return format_html('<span class="grade grade-none" title="–">–</span>')
    return format_html('<span class="grade grade-{}">{}</span>', grade.lower(), grade)
