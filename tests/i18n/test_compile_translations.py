"""`make run` and `make test` compile the .po catalogues, with msgfmt or, on a machine without it, in Python."""

import gettext
import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command

from recovery import translations

CATALOGUE = Path(settings.BASE_DIR) / "locale" / "es" / "LC_MESSAGES" / "django.po"


@pytest.fixture
def locale_copy(tmp_path):
    target = tmp_path / "locale" / "es" / "LC_MESSAGES"
    target.mkdir(parents=True)
    shutil.copy(CATALOGUE, target / "django.po")
    return tmp_path / "locale"


@pytest.mark.parametrize("use_msgfmt", [False, pytest.param(True, marks=pytest.mark.skipif(
    shutil.which("msgfmt") is None, reason="GNU gettext's msgfmt is not installed"))])
def test_the_spanish_catalogue_compiles_and_reads_back(locale_copy, use_msgfmt):
    compiled = translations.compile_stale([locale_copy], use_msgfmt=use_msgfmt)

    assert compiled == [locale_copy / "es" / "LC_MESSAGES" / "django.mo"]
    spanish = gettext.translation("django", localedir=str(locale_copy), languages=["es"])
    assert spanish.gettext("Log a failure") == "Registrar un fallo"


def test_only_a_changed_catalogue_is_compiled_again(locale_copy):
    translations.compile_stale([locale_copy], use_msgfmt=False)
    assert translations.compile_stale([locale_copy], use_msgfmt=False) == []
    po = locale_copy / "es" / "LC_MESSAGES" / "django.po"
    later = time.time() + 5
    os.utime(po, (later, later))
    assert len(translations.compile_stale([locale_copy], use_msgfmt=False)) == 1


def test_fuzzy_translations_are_left_out_as_msgfmt_leaves_them(tmp_path):
    folder = tmp_path / "es" / "LC_MESSAGES"
    folder.mkdir(parents=True)
    (folder / "django.po").write_text(
        'msgid ""\nmsgstr "Content-Type: text/plain; charset=UTF-8\\n"\n\n'
        '#, fuzzy\nmsgid "Save"\nmsgstr "Guardar tal vez"\n\nmsgid "Cancel"\nmsgstr "Cancelar"\n', encoding="utf-8")
    translations.compile_stale([tmp_path], use_msgfmt=False)
    spanish = gettext.translation("django", localedir=str(tmp_path), languages=["es"])
    assert spanish.gettext("Save") == "Save" and spanish.gettext("Cancel") == "Cancelar"


def test_the_command_compiles_without_msgfmt(settings, locale_copy, capsys):
    settings.LOCALE_PATHS = [locale_copy]
    call_command("compile_translations", "--without-msgfmt")
    assert (locale_copy / "es" / "LC_MESSAGES" / "django.mo").exists()
    assert "Compiled" in capsys.readouterr().out


def test_make_test_and_make_run_compile_the_catalogues_first():
    dry_run = subprocess.run(["make", "-n", "test", "seed"], cwd=settings.BASE_DIR, capture_output=True, text=True,
                             env={**os.environ, "PATH": os.environ.get("PATH", "")})
    assert "manage.py compile_translations" in dry_run.stdout


def test_the_compiled_files_are_not_in_the_repository():
    ignored = subprocess.run(["git", "check-ignore", "locale/es/LC_MESSAGES/django.mo"], cwd=settings.BASE_DIR,
                             capture_output=True, text=True)
    assert ignored.returncode == 0


def test_the_catalogue_has_no_fuzzy_entries_left_unreviewed():
    import polib

    assert polib.pofile(str(CATALOGUE)).fuzzy_entries() == []
