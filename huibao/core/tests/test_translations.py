"""The two catalogs are complete and compiled: every literal string a template or module marks for
translation has an entry, English pages get English for the Chinese source strings, Chinese pages
get Chinese for the English ones, nothing is fuzzy, and each .mo holds exactly its .po."""

from __future__ import annotations

import re
from pathlib import Path

import polib
import pytest
from django.conf import settings

LOCALE = Path(settings.BASE_DIR) / "huibao" / "locale"
SOURCE = Path(settings.BASE_DIR) / "huibao"
HAN = re.compile(r"[\u4e00-\u9fff]")
TEMPLATE_LITERAL = re.compile(r"""\{%\s*(?:translate|trans)\s+(["'])(.+?)\1""")
PYTHON_LITERAL = re.compile(r"""\b(?:_|gettext|gettext_lazy)\(\s*(["'])((?:(?!\1).)+)\1\s*[,)]""")
# pgettext's first argument is the context; the message is the second.
PYTHON_CONTEXT_LITERAL = re.compile(
    r"""\bpgettext(?:_lazy)?\(\s*(["'])(?:(?!\1).)+\1\s*,\s*(["'])((?:(?!\2).)+)\2\s*[,)]"""
)


def catalog(language: str) -> polib.POFile:
    return polib.pofile(str(LOCALE / language / "LC_MESSAGES" / "django.po"))


def marked_strings() -> set[str]:
    found: set[str] = set()
    for path in SOURCE.rglob("*.html"):
        # makemessages escapes a template's literal % as %%
        text = path.read_text(encoding="utf-8")
        found |= {m.group(2).replace("%", "%%") for m in TEMPLATE_LITERAL.finditer(text)}
    for path in SOURCE.rglob("*.py"):
        if "tests" in path.parts or "migrations" in path.parts:
            continue
        source = path.read_text(encoding="utf-8")
        found |= {m.group(2) for m in PYTHON_LITERAL.finditer(source)}
        found |= {m.group(3) for m in PYTHON_CONTEXT_LITERAL.finditer(source)}
    return {s for s in found if "\\" not in s and "{{" not in s}


@pytest.mark.parametrize("language", ["en", "zh_Hans"])
def test_every_marked_string_has_an_entry(language: str) -> None:
    entries = {e.msgid for e in catalog(language) if not e.obsolete}
    missing = sorted(marked_strings() - entries)
    assert missing == [], f"run makemessages and translate: {missing[:10]}"


def test_english_catalog_translates_every_chinese_source_string() -> None:
    entries = [e for e in catalog("en") if not e.obsolete]
    untranslated = [e.msgid for e in entries if HAN.search(e.msgid) and not e.translated()]
    assert untranslated == []


def test_chinese_catalog_translates_every_english_source_string() -> None:
    untranslated = [
        e.msgid
        for e in catalog("zh_Hans")
        if not HAN.search(e.msgid) and not e.obsolete and not e.translated()
    ]
    assert untranslated == []


@pytest.mark.parametrize("language", ["en", "zh_Hans"])
def test_nothing_fuzzy_and_the_mo_is_compiled_from_the_po(language: str) -> None:
    po = catalog(language)
    assert [e.msgid for e in po.fuzzy_entries()] == []
    mo = polib.mofile(str(LOCALE / language / "LC_MESSAGES" / "django.mo"))
    translated = {
        (e.msgid, e.msgstr or tuple(sorted(e.msgstr_plural.items()))) for e in po.translated_entries()
    }
    compiled = {(e.msgid, e.msgstr or tuple(sorted(e.msgstr_plural.items()))) for e in mo if e.msgid}
    assert compiled == translated, "run manage.py compile_translations"


def _pair(entry: polib._BaseEntry) -> tuple[str, object]:
    return entry.msgid, entry.msgstr or tuple(sorted(entry.msgstr_plural.items()))
