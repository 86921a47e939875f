"""The zh-Hans catalogue is complete, compiled, and covers every string in the code."""
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import polib

from skillguard.core.skips import require_binary

PACKAGE = Path(__file__).resolve().parents[2]
PO = PACKAGE / "locale" / "zh_Hans" / "LC_MESSAGES" / "django.po"
MO = PO.with_suffix(".mo")


def test_every_message_is_translated_and_not_fuzzy():
    po = polib.pofile(str(PO))
    missing = [e.msgid for e in po if not e.translated() or "fuzzy" in e.flags]
    assert not missing, f"untranslated or fuzzy: {missing[:20]}"


def test_compiled_catalogue_matches_the_source():
    po, mo = polib.pofile(str(PO)), polib.mofile(str(MO))
    compiled = {(e.msgctxt, e.msgid): e.msgstr or e.msgstr_plural.get(0) for e in mo}
    stale = [e.msgid for e in po if compiled.get((e.msgctxt, e.msgid)) !=
             (e.msgstr or e.msgstr_plural.get(0))]
    assert not stale, f"django.mo is stale — run compilemessages: {stale[:10]}"


def test_catalogue_covers_every_string_in_the_code():
    require_binary("xgettext", "makemessages needs GNU gettext")
    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(tmp) / "skillguard"
        shutil.copytree(PACKAGE, copy, ignore=shutil.ignore_patterns("__pycache__", "*.mo"))
        subprocess.run([sys.executable, "-m", "django", "makemessages", "-l", "zh_Hans",
                        "-i", "*/tests/*", "--no-obsolete", "--settings=skillguard.settings"],
                       cwd=copy, check=True, capture_output=True,
                       # makemessages needs no database: a URL that is never dialled keeps
                       # settings from starting an embedded cluster in the temporary copy
                       env={**os.environ, "PYTHONPATH": str(PACKAGE.parent),
                            "DATABASE_URL": "postgresql://unused@127.0.0.1:9/unused"})
        fresh = polib.pofile(str(copy / "locale" / "zh_Hans" / "LC_MESSAGES" / "django.po"))
    new = [e.msgid for e in fresh if not e.translated() or "fuzzy" in e.flags]
    assert not new, f"strings in the code without a translation (run makemessages): {new[:20]}"
