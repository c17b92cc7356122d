"""`{% customer_story customer %}` on the customer page, `{% customer_story incident.customer incident %}` on the
incident page: the customer's story (incidents.customer_story) in a few fixed queries."""

from django import template

from .. import customer_story as stories

register = template.Library()


@register.inclusion_tag("customers/_story.html", takes_context=True)
def customer_story(context, customer, incident=None):
    """Beside an incident: its customer's other recoveries, the latest few. On the customer's page: more of them."""
    latest = stories.BESIDE_AN_INCIDENT if incident is not None else stories.ON_THE_CUSTOMER_PAGE
    story = stories.customer_story(context["request"].user, customer, leave_out=incident, latest=latest)
    organization = incident.organization if incident is not None else customer.organization
    flag_from_this_incident = incident is not None and customer.care_flagged_at == incident.logged_at
    return {"story": story, "customer": customer, "incident": incident, "currency": organization.currency,
            "flag_from_this_incident": flag_from_this_incident}
