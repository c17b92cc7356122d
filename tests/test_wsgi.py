"""The web process's entry point."""

import os
import subprocess
import sys
from pathlib import Path


def test_the_web_process_loads_its_urls_and_keeps_them_out_of_garbage_collection():
    probe = "import gc, sys, recovery.wsgi; print(gc.get_freeze_count(), 'helpdesk.views' in sys.modules)"
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "recovery.settings"}
    result = subprocess.run([sys.executable, "-c", probe], env=env, cwd=Path(__file__).parent.parent,
                            capture_output=True, text=True, timeout=60, check=True)
    frozen, views_loaded = result.stdout.split()[-2:]
    # Everything loaded at start, views and serializers included, is frozen: tens of thousands of objects.
    assert int(frozen) > 10_000 and views_loaded == "True"
