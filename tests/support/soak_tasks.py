"""The task of the broker soak test (`tests/test_broker_soak.py`): each run appends its number to a
file, so the test can count how often every message was delivered."""

import os

from recovery.celery import app


@app.task(name="soak.record", ignore_result=True)
def record(number):
    # One short append per run: O_APPEND writes of a line are not interleaved between processes.
    with open(os.environ["SOAK_RECORD_FILE"], "a") as record_file:
        record_file.write(f"{number}\n")
