from django import template
from django.utils.translation import gettext as _

register = template.Library()


@register.filter
def sats(msat: int | None) -> str:
    """Whole sats for display; msat stay the unit of account everywhere else."""
    return _("%(sats)s sats") % {"sats": f"{(msat or 0) // 1000:,}"}
