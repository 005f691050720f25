from django import template
from django.utils.translation import gettext as _

register = template.Library()


@register.filter
def sats(msat: int | None) -> str:
    """Whole sats for display; msat stay the unit of account everywhere else."""
    return _("%(sats)s sats") % {"sats": f"{(msat or 0) // 1000:,}"}


@register.filter
def percent(share: float | None) -> str:
    """A share in 0..1 as a whole percentage; a dash while there is nothing to measure."""
    return "\u2013" if share is None else f"{round(100 * share)} %"
