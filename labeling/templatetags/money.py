from django import template
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

register = template.Library()


@register.filter
def sats(msat: int | None) -> str:
    """Whole sats for display; msat stay the unit of account everywhere else."""
    return _("%(sats)s sats") % {"sats": f"{(msat or 0) // 1000:,}"}


@register.filter
def msat_as_sats(msat: int) -> str:
    """Sats with the msat part when there is one (1.5 sats): a cost shown to the msat."""
    whole, rest = divmod(msat, 1000)
    figure = f"{whole:,}" + (f".{rest:03d}".rstrip("0") if rest else "")
    return ngettext("%(sats)s sat", "%(sats)s sats", 1 if msat == 1000 else 2) % {"sats": figure}


@register.filter
def percent(share: float | None) -> str:
    """A share in 0..1 as a whole percentage; a dash while there is nothing to measure."""
    return "\u2013" if share is None else f"{round(100 * share)} %"
