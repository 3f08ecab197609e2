"""What people read, in their language: one gettext catalogue for everything a scanning room or an administrator
reads (``reason.txt``, ``dossier status``, the review's doubt notes, the command line's errors), Chinese by default.

Messages are written in English in the code (the msgid) and translated by ``locale/<lang>/LC_MESSAGES/dossier.po``;
the compiled ``.mo`` files are checked in beside them and kept in step by a test (``make messages`` extracts,
updates and compiles them with Babel). The language is chosen once at an edge (``DOSSIER_LANG``, through
:class:`pipeline.settings.LocaleSettings`) with :func:`use_language`; the library only calls :func:`say`.

A message for people says what happened first and what to do next, then the technical detail (which names the file,
page, volume or case in the words of the logs).
"""

from __future__ import annotations

import gettext
import threading
from collections.abc import Mapping
from pathlib import Path

DOMAIN = "dossier"
LOCALE_DIR = Path(__file__).resolve().parent / "locale"
LANGUAGES = ("zh_CN", "en")
DEFAULT_LANGUAGE = "zh_CN"

_lock = threading.Lock()
_current: dict[str, object] = {}


def canonical(language: str) -> str:
    """zh_CN or en from a setting such as ``zh``, ``zh_CN.UTF-8`` or ``en_US``."""
    return "en" if language.lower().startswith("en") else DEFAULT_LANGUAGE


def use_language(language: str) -> None:
    """Speak ``language`` (zh_CN or en) from now on in this process: called at the edges, from the settings."""
    name = canonical(language)
    found = gettext.translation(DOMAIN, LOCALE_DIR, languages=[name], fallback=True)
    with _lock:
        _current.update(name=name, translations=found)


def language() -> str:
    """The language messages are given in now (zh_CN or en)."""
    if not _current:
        use_language(DEFAULT_LANGUAGE)
    return str(_current["name"])


def _translations() -> gettext.NullTranslations:
    if not _current:
        use_language(DEFAULT_LANGUAGE)
    return _current["translations"]  # type: ignore[return-value]


def say(message: str, /, **fields: object) -> str:
    """The message in the current language, its ``{fields}`` filled in."""
    text = _translations().gettext(message)
    return text.format(**fields) if fields else text


def said(words: Mapping[str, str], code: str) -> str:
    """A code (a state, a kind, a flag) in the current language from its table of marked messages; a code the table
    does not know, as it is."""
    return say(words[code]) if code in words else code


def N_(message: str) -> str:
    """Mark a message for the catalogue without translating it here (it is translated where it is said)."""
    return message


__all__ = ["DEFAULT_LANGUAGE", "LANGUAGES", "N_", "canonical", "language", "said", "say", "use_language"]
