"""Factories with boring defaults; each test states what matters to it."""

import datetime

import factory
from django.utils import timezone

from incidents import services
from incidents.models import Customer, Location, Organization, User

PASSWORD = "recover-test"


class OrganizationFactory(factory.django.DjangoModelFactory):
    """Made by the service every door uses, so it starts with the default coach phrases; one per slug."""

    class Meta:
        model = Organization

    name = factory.Sequence(lambda n: f"Organization {n}")
    slug = factory.Sequence(lambda n: f"org-{n}")

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        return model_class.objects.filter(slug=kwargs["slug"]).first() or services.create_organization(**kwargs)


class LocationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Location

    organization = factory.SubFactory(OrganizationFactory)
    name = factory.Sequence(lambda n: f"Store {n}")
    code = factory.Sequence(lambda n: f"store-{n}")
    region = "North"
    timezone = "UTC"
    opens_at = datetime.time(9, 0)
    closes_at = datetime.time(18, 0)


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"staff{n}")
    first_name = factory.Sequence(lambda n: f"Sam{n}")
    last_name = "Taylor"
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.com")
    organization = factory.SubFactory(OrganizationFactory)
    role = User.Role.FRONTLINE
    password = factory.PostGenerationMethodCall("set_password", PASSWORD)

    @factory.post_generation
    def locations(user, create, extracted, **kwargs):
        if create and extracted:
            user.locations.set(extracted)
        if create:
            user.save()


class CustomerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Customer

    organization = factory.SubFactory(OrganizationFactory)
    name = factory.Sequence(lambda n: f"Customer {n}")
    email = factory.Sequence(lambda n: f"customer{n}@example.com")
    phone = factory.Sequence(lambda n: f"+44 20 7946 {n:04d}")


def log_incident(*, user, location=None, customer=None, now=None, **overrides):
    """An incident logged through the service, as every door logs one."""
    location = location or user.locations.first()
    # Read afresh, with its organization, as every door does per request: the organization row carries
    # counts other writes keep (how many problems have a pattern), which a fixture's copy would miss.
    location = Location.objects.select_related("organization").get(pk=location.pk)
    customer = customer or CustomerFactory(organization=location.organization)
    values = {"summary": "Soup arrived cold", "channel": "in_person", "category": "Kitchen"}
    values.update(overrides)
    return services.log_incident(
        logged_by=user, customer=customer, location=location, now=now or timezone.now(), **values
    )
