"""Exceptions the pipeline raises; each message names the file, page or volume it is about.

Every class carries the exit code the ``dossier`` command ends with when it stops on that error (:class:`ExitCode`,
documented in docs/reference/commands.md), so a script can tell bad input from a store that is down without reading
the message.
"""

import errno
from enum import IntEnum

from pipeline.messages import N_, say


class ExitCode(IntEnum):
    """How the ``dossier`` command ended."""

    OK = 0
    FAILED = 1  # a step failed (a volume could not be built, OCR failed, …): anything not named below
    USAGE = 2  # the command line itself is wrong (unknown option, missing argument)
    BAD_INPUT = 3  # a batch, file, case number or sheet list is unusable
    REFUSED = 4  # refused by policy: security level, permissions, a classified case in an open bucket
    UNAVAILABLE = 5  # the object store or a service did not answer
    VERIFICATION_FAILED = 6  # a volume or dossier failed its checks (signature, digest, PDF/A, the four properties)
    NOT_FOUND = 7  # no such dossier, run, token or record
    CONFIGURATION = 8  # a setting or the standard profile is invalid
    REVIEW_NEEDED = 9  # a person must decide first (an undecodable separator sheet, page counts that disagree)


class DossierError(Exception):
    """Base class for errors that stop a batch, a volume or a request with a clear message."""

    exit_code = ExitCode.FAILED


class SettingsError(DossierError):
    """A setting (a DOSSIER_* variable read by pipeline.settings) is invalid."""

    exit_code = ExitCode.CONFIGURATION
    unavailable = "settings"


class ProfileError(DossierError):
    """A standard profile is missing or invalid."""

    exit_code = ExitCode.CONFIGURATION
    unavailable = "profile"


class BadInputError(DossierError):
    """A batch holds a file that cannot be processed; the batch is stopped or quarantined, never modified."""

    exit_code = ExitCode.BAD_INPUT

    def __init__(self, message: str, file: str | None = None):
        super().__init__(message)
        self.file = file


class PageError(DossierError):
    """One page could not be processed (refused by the profile, OCR failed, ...)."""

    def __init__(self, message: str, page: str | None = None):
        super().__init__(message)
        self.page = page


class VolumeError(DossierError):
    """Building, finishing, signing or verifying a volume failed; ``causes`` holds each failed volume's error when
    several are reported at once."""

    def __init__(self, message: str, volume: int | None = None, causes: tuple[BaseException, ...] = ()):
        super().__init__(message)
        self.volume = volume
        self.causes = tuple(causes)


class VerificationError(DossierError):
    """A volume or dossier failed its checks: it must not be trusted."""

    exit_code = ExitCode.VERIFICATION_FAILED


class StoreError(DossierError):
    """The object store refused or failed a request."""

    exit_code = ExitCode.UNAVAILABLE
    unavailable = "store"


class RefusedError(DossierError):
    """Refused by policy: the request is understood and not allowed."""

    exit_code = ExitCode.REFUSED


class NotFoundError(DossierError):
    """What was asked for does not exist (or is not visible to the asker)."""

    exit_code = ExitCode.NOT_FOUND


class CaseNumberError(DossierError):
    """A string is not a plausible case number."""

    exit_code = ExitCode.BAD_INPUT


class ReviewNeeded(DossierError):
    """The batch needs a human decision (e.g. a separator sheet that cannot be decoded)."""

    exit_code = ExitCode.REVIEW_NEEDED


class ReviewTimedOut(ReviewNeeded):
    """A run waited for its 卷内目录 review longer than DOSSIER_REVIEW_TIMEOUT: it stops unpublished."""


def exit_code_of(exc: BaseException) -> ExitCode:
    """The exit code the command ends with when it stops on ``exc``."""
    return getattr(exc, "exit_code", ExitCode.FAILED) if isinstance(exc, DossierError) else ExitCode.FAILED


class SigningKeyError(SettingsError):
    """The configured signing key cannot be used now: its file is gone or unreadable, its token does not answer.
    The machine's fault, never the batch's: a run stopped by it is held and resumed once the key is back."""

    unavailable = "key"


# -- whose fault -------------------------------------------------------------------------------------------------------
DISK_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EIO})
"""OSError numbers that say the machine's disk failed a write, whatever was being written."""

BATCH_CODES = frozenset({ExitCode.BAD_INPUT, ExitCode.REFUSED, ExitCode.REVIEW_NEEDED, ExitCode.VERIFICATION_FAILED,
                         ExitCode.NOT_FOUND})
"""Exit codes of errors about the batch itself: running it again, unchanged, fails the same way."""


def _chain(exc: BaseException) -> list[BaseException]:
    """The error, then what it wraps: the causes a VolumeError collected, ``raise … from``, and the context."""
    seen: list[BaseException] = []
    pending = [exc]
    while pending and len(seen) < 64:
        current = pending.pop(0)
        if current is None or any(current is s for s in seen):
            continue
        seen.append(current)
        pending.extend(getattr(current, "causes", ()) or ())
        pending.extend([current.__cause__, current.__context__])
    return seen


def machine_fault(exc: BaseException) -> str | None:
    """What part of the machine stopped a run — ``store``, ``key``, ``settings``, ``profile``, ``rooms``,
    ``database``, ``disk``, ``memory``, ``network``, ``timeout`` — or None when the fault is the batch's.

    Decided by the errors' classes, outermost first: the first that names a part of the machine (an ``unavailable``
    class attribute, a disk error number, memory, a connection or a timeout) or a fault of the batch (its exit code:
    bad input, refused, a decision needed, failed checks) decides. Anything else — an unexpected error about a batch
    (a crash in reading it, a bug it uncovered) — is the batch's: it is quarantined at once, never retried in a loop.
    The one place the pipeline tells the two apart (the watcher, the runs and the command line ask it)."""
    for current in _chain(exc):
        kind = getattr(current, "unavailable", None)
        if kind:
            return str(kind)
        if isinstance(current, OSError) and current.errno in DISK_ERRNOS:
            return "disk"
        if isinstance(current, MemoryError):
            return "memory"
        if isinstance(current, (ConnectionError, TimeoutError)):
            return "network" if isinstance(current, ConnectionError) else "timeout"
        if isinstance(current, DossierError) and current.exit_code in BATCH_CODES:
            return None
    return None


# -- what it means for people ------------------------------------------------------------------------------------------
_MACHINE_WORDS = {
    "store": (N_("The object store is unavailable"),
              N_("check it with 'dossier store status' (start the embedded one with 'dossier store start'); work held "
                 "for it resumes by itself")),
    "key": (N_("The signing key is unavailable"),
            N_("configure it (DOSSIER_SIGN_PKCS12 and DOSSIER_SIGN_PASSWORD, or a PKCS#11 token) or put its file back; "
               "work held for it resumes by itself")),
    "settings": (N_("A setting is invalid"), N_("correct the DOSSIER_* variable named below")),
    "profile": (N_("The standard profile cannot be used"), N_("correct the profile named below (or choose another "
                                                               "with --profile)")),
    "rooms": (N_("The rooms file is missing or invalid"),
              N_("an administrator writes or corrects the rooms file named below (outside the hot folder)")),
    "database": (N_("The access database is unavailable"), N_("check DOSSIER_DB_URL and the database server")),
    "disk": (N_("A disk is full or cannot be written"), N_("free space on it; work held for it resumes by itself")),
    "memory": (N_("The machine ran out of memory"), N_("run fewer pages at once (DOSSIER_WORKERS) and try again")),
    "network": (N_("A service did not answer"), N_("check the network and the service named below, then try again")),
    "timeout": (N_("A step took too long"), N_("try again when the machine is less busy")),
}
_CLASS_WORDS: list[tuple[type, str, str]] = [
    (CaseNumberError, N_("The case number is not understood"),
     N_("check it (it looks like （2024）豫0727刑初172号) and try again")),
    (BadInputError, N_("Input that cannot be used"), N_("correct the file named below and try again")),
    (RefusedError, N_("Refused"), N_("ask an administrator if it should be allowed")),
    (ReviewNeeded, N_("A person must decide first"), N_("look at the pages named below, then try again")),
    (VerificationError, N_("The checks failed"), N_("do not trust it; see the report named below")),
    (NotFoundError, N_("Not found"), N_("check the case number or name")),
    (VolumeError, N_("A volume could not be built"),
     N_("rebuild what failed with 'dossier rerun <case number>' once the cause below is fixed")),
]


def part_words(part: str) -> str:
    """What it means that a part of the machine (``store``, ``key``, …) is down, in the reader's language."""
    return say(_MACHINE_WORDS[part][0]) if part in _MACHINE_WORDS else part


def people_words(exc: BaseException) -> tuple[str, str]:
    """(what happened, what to do next) for an error, in the current language: by the part of the machine that
    failed, else by the error's class."""
    kind = machine_fault(exc)
    if kind in _MACHINE_WORDS:
        what, then = _MACHINE_WORDS[kind]
        return say(what), say(then)
    for cls, what, then in _CLASS_WORDS:
        if isinstance(exc, cls):
            return say(what), say(then)
    return say(N_("The step failed")), say(N_("see the detail; run the command again with -v for the traceback"))


def in_words(exc: DossierError, what: str, then: str) -> DossierError:
    """Give an error its own people's words (already in the reader's language), kept by :func:`explain`."""
    exc.said = say(N_("{what}: {then} ({detail})"), what=what, then=then,  # type: ignore[attr-defined]
                   detail=f"{type(exc).__name__}: {exc}")
    return exc


def explain(exc: BaseException) -> str:
    """One line for people: what happened and what to do next in their language, then the technical detail (an
    error that carries its own people's line, ``said``, is given as it is)."""
    said = getattr(exc, "said", None)
    if said:
        return str(said)
    what, then = people_words(exc)
    return say(N_("{what}: {then} ({detail})"), what=what, then=then, detail=f"{type(exc).__name__}: {exc}")
