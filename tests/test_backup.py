"""The documented backup and restore (docs/operations.md), tried once against PostgreSQL."""

import shutil
import subprocess
import uuid

import psycopg2
import pytest
from django.db import connection

from tests import factories


@pytest.mark.django_db(transaction=True)
def test_a_pg_dump_restores_into_a_fresh_database_with_the_timeline_guard(frontline, location):
    if connection.vendor != "postgresql":
        pytest.skip("backup and restore are documented for PostgreSQL; this suite runs on SQLite")
    if not shutil.which("pg_dump"):
        pytest.fail("pg_dump is needed to test the documented backup")
    incident = factories.log_incident(user=frontline, location=location, summary="Backed-up soup")
    settings = connection.settings_dict
    common = ["-h", settings["HOST"] or "127.0.0.1", "-p", str(settings["PORT"] or 5432), "-U", settings["USER"]]
    scratch = f"restore_{uuid.uuid4().hex[:10]}"
    dump = subprocess.run(["pg_dump", "--format=custom", "--no-owner", *common, settings["NAME"]],
                          capture_output=True, check=True, timeout=120).stdout
    subprocess.run(["createdb", *common, scratch], check=True, timeout=60)
    try:
        subprocess.run(["pg_restore", "--no-owner", *common, "--dbname", scratch], input=dump, check=True, timeout=120)
        restored = psycopg2.connect(host=common[1], port=common[3], user=common[5], dbname=scratch)
        try:
            with restored.cursor() as cursor:
                cursor.execute("SELECT reference, summary FROM incidents_incident")
                assert cursor.fetchall() == [(incident.reference, "Backed-up soup")]
                with pytest.raises(psycopg2.Error, match="append-only"):
                    cursor.execute("DELETE FROM incidents_event")
        finally:
            restored.close()
    finally:
        subprocess.run(["dropdb", *common, scratch], check=True, timeout=60)
