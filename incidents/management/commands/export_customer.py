import json

from django.core.management.base import BaseCommand, CommandError

from incidents.customer_data import export_customer
from incidents.models import Customer


class Command(BaseCommand):
    help = "Print everything held about one customer as JSON (a data subject access request)."

    def add_arguments(self, parser):
        parser.add_argument("customer_id", type=int)

    def handle(self, *args, customer_id, **options):
        customer = Customer.objects.filter(pk=customer_id).first()
        if customer is None:
            raise CommandError(f"No customer with id {customer_id}.")
        self.stdout.write(json.dumps(export_customer(customer), indent=2, ensure_ascii=False))
