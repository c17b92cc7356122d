"""Customers' phone numbers in E.164, checked with `phonenumbers`.

Each stored number is read in PHONENUMBER_DEFAULT_REGION (when typed without a country code) and
rewritten as E.164. One that is not a valid number is not thrown away: it moves to
`phone_as_given`, shown on the customer's page for someone to correct, and the phone field is
left empty (no text message is ever sent to it). Reversing puts those back."""

import phonenumbers
import phonenumber_field.modelfields
from django.conf import settings
from django.db import migrations, models

BATCH = 1000


def to_e164(apps, schema_editor):
    Customer = apps.get_model("incidents", "Customer")
    region = getattr(settings, "PHONENUMBER_DEFAULT_REGION", None)
    changed = []
    for customer in Customer.objects.exclude(phone="").only("pk", "phone", "phone_as_given").iterator(chunk_size=BATCH):
        e164 = ""
        try:
            number = phonenumbers.parse(customer.phone, region)
            if phonenumbers.is_valid_number(number):
                e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
        except phonenumbers.NumberParseException:
            pass
        if e164 == customer.phone:
            continue
        if not e164:
            customer.phone_as_given = customer.phone[:40]
        customer.phone = e164
        changed.append(customer)
        if len(changed) >= BATCH:
            Customer.objects.bulk_update(changed, ["phone", "phone_as_given"])
            changed = []
    Customer.objects.bulk_update(changed, ["phone", "phone_as_given"])


def back(apps, schema_editor):
    Customer = apps.get_model("incidents", "Customer")
    for customer in Customer.objects.filter(phone="").exclude(phone_as_given="").iterator(chunk_size=BATCH):
        customer.phone, customer.phone_as_given = customer.phone_as_given, ""
        customer.save(update_fields=["phone", "phone_as_given"])


class Migration(migrations.Migration):

    dependencies = [
        ('incidents', '0017_message_event_kinds'),
    ]

    operations = [
        migrations.AddField(
            model_name='customer',
            name='phone_as_given',
            field=models.CharField(blank=True, help_text='A phone number that could not be read as one.', max_length=40),
        ),
        migrations.RunPython(to_e164, back),
        migrations.AlterField(
            model_name='customer',
            name='phone',
            field=phonenumber_field.modelfields.PhoneNumberField(blank=True, max_length=128, region=None),
        ),
    ]
