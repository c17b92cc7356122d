from django.core.management.base import BaseCommand, CommandError

from incidents.customer_data import anonymize_customer
from incidents.models import Customer


class Command(BaseCommand):
    help = "Remove what identifies one customer, keeping the incident statistics."

    def add_arguments(self, parser):
        parser.add_argument("customer_id", type=int)

    def handle(self, *args, customer_id, **options):
        customer = Customer.objects.filter(pk=customer_id).first()
        if customer is None:
            raise CommandError(f"No customer with id {customer_id}.")
        anonymize_customer(customer)
        self.stdout.write(f"Customer {customer_id} anonymized; {customer.incidents.count()} incidents kept for statistics.")
