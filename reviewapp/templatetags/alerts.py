"""The alert banner: new alerts (a rise in false refusals, a disparity, an inconsistency)."""

from django import template

from auditcore.selectors.alerts import alerts_active

register = template.Library()


@register.inclusion_tag("reviewapp/alerts/_banner.html")
def alerts_banner() -> dict:
    return {"alerts": list(alerts_active())}
