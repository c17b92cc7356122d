"""Input serializers share one set of bound fields per class; each validation stays its own."""

import threading

from helpdesk.serializers import FixInput, IncidentCreateInput

GOOD = {"customer": {"name": "Ada", "email": "ada@example.com"}, "summary": "Soup arrived cold",
        "channel": "in_person", "category": "Kitchen", "location": "riverside"}


def validate(data, serializer_class=IncidentCreateInput):
    serializer = serializer_class(data=data)
    serializer.is_valid()
    return serializer


def test_each_validation_reports_only_its_own_errors():
    bad = validate({**GOOD, "channel": "pigeon", "customer": {"name": "", "email": "nope"}})
    good = validate(GOOD)
    other = validate({**GOOD, "customer": {"name": "Ada", "bogus": 1}})

    assert set(bad.errors) == {"customer", "channel"} and set(bad.errors["customer"]) == {"name", "email"}
    assert good.errors == {} and good.validated_data["customer"]["email"] == "ada@example.com"
    assert other.errors == {"customer": {"bogus": ["Unknown field."]}}
    assert FixInput().fields is not IncidentCreateInput().fields  # per class


def test_threads_validating_at_once_get_their_own_values():
    mixed_up = []

    def validate_many(thread):
        for number in range(200):
            summary, email = f"{thread}-{number}", f"c{thread}-{number}@example.com"
            serializer = validate({**GOOD, "summary": summary, "customer": {"name": "Ada", "email": email}})
            data = serializer.validated_data
            if serializer.errors or data["summary"] != summary or data["customer"]["email"] != email:
                mixed_up.append((thread, number))

    threads = [threading.Thread(target=validate_many, args=(thread,)) for thread in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert mixed_up == []


def test_an_input_keeps_nothing_of_an_earlier_request():
    import gc
    import weakref

    first = IncidentCreateInput(data={"customer": {"name": "Ada Lovelace", "email": "ada@example.com"}})
    first.is_valid()
    gone = weakref.ref(first)
    del first
    gc.collect()

    second = IncidentCreateInput(data={"customer": {"name": "Grace Hopper"}})
    second.is_valid()
    # Fields bound once and shared would keep the first request (a customer's details) for the process's life.
    assert gone() is None
    assert all(field.parent is second for field in second.fields.values())
