"""The translations' catalogues (locale/<lang>/LC_MESSAGES/*.po) compiled to the .mo files Django reads.

GNU gettext's msgfmt (Django's compilemessages) when the machine has it; otherwise polib, in pure Python,
so a fresh machine with only Python compiles them too. A catalogue is compiled again only when its .po is
newer than its .mo; the .mo is written beside it in one rename, so two test workers never read half a file.
"""

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import polib


def catalogues(locale_dirs):
    return [po for directory in locale_dirs for po in sorted(Path(directory).glob("*/LC_MESSAGES/*.po"))]


def stale_catalogues(locale_dirs):
    """The .po files whose .mo is missing or older."""
    stale = []
    for po in catalogues(locale_dirs):
        mo = po.with_suffix(".mo")
        if not mo.exists() or mo.stat().st_mtime < po.stat().st_mtime:
            stale.append(po)
    return stale


def compile_catalogue(po, *, use_msgfmt=None):
    """Write `po`'s .mo. Fuzzy entries are left out, as msgfmt leaves them out."""
    po = Path(po)
    mo = po.with_suffix(".mo")
    use_msgfmt = shutil.which("msgfmt") is not None if use_msgfmt is None else use_msgfmt
    handle, temporary = tempfile.mkstemp(dir=po.parent, suffix=".mo.tmp")
    os.close(handle)
    try:
        if use_msgfmt:
            subprocess.run(["msgfmt", "--check-format", "-o", temporary, str(po)], check=True)
        else:
            catalogue = polib.pofile(str(po))
            for entry in catalogue.fuzzy_entries():
                catalogue.remove(entry)
            catalogue.save_as_mofile(temporary)
        os.replace(temporary, mo)
    finally:
        if os.path.exists(temporary):
            os.remove(temporary)
    return mo


def compile_stale(locale_dirs, *, use_msgfmt=None):
    return [compile_catalogue(po, use_msgfmt=use_msgfmt) for po in stale_catalogues(locale_dirs)]
