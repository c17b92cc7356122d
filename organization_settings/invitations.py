"""The invitation email: a link where a new member of staff chooses their password."""

from django.conf import settings
from django.core.mail import send_mail
from django.template.loader import render_to_string

from incidents.models import User
from incidents.validators import one_line

from .services import invitation_link


def send(member_id):
    """Send the invitation, unless they have chosen a password meanwhile or were deactivated."""
    member = User.objects.select_related("organization").filter(pk=member_id).first()
    if member is None or not member.is_active or member.has_usable_password() or not member.email:
        return False
    context = {"member": member, "organization": member.organization, "link": invitation_link(member)}
    send_mail(
        subject=one_line(f"You are invited to Recovery at {member.organization.name}"),
        message=render_to_string("organization_settings/emails/invitation.txt", context),
        from_email=settings.DEFAULT_FROM_EMAIL,
        recipient_list=[member.email],
    )
    return True
