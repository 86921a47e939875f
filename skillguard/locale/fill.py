"""Fill msgstr for new msgids: python locale/fill.py 'msgid=译文' … (clears fuzzy flags)."""
import sys

import polib

PATH = "locale/zh_Hans/LC_MESSAGES/django.po"

if __name__ == "__main__":
    pairs = dict(arg.split("=", 1) for arg in sys.argv[1:])
    po = polib.pofile(PATH, wrapwidth=79)
    for entry in po:
        if entry.msgid in pairs:
            entry.msgstr = pairs[entry.msgid]
            entry.flags = [f for f in entry.flags if f != "fuzzy"]
            entry.previous_msgid = None
    po.save(PATH)
    left = [e.msgid for e in po if not e.translated() or "fuzzy" in e.flags]
    print("untranslated:", left)
