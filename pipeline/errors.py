"""Exceptions the pipeline raises; each message names the file, page or volume it is about.

Every class carries the exit code the ``dossier`` command ends with when it stops on that error (:class:`ExitCode`,
documented in the README), so a script can tell bad input from a store that is down without reading the message.
"""

from enum import IntEnum


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


class ProfileError(DossierError):
    """A standard profile is missing or invalid."""

    exit_code = ExitCode.CONFIGURATION


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
    """Building, finishing, signing or verifying a volume failed."""

    def __init__(self, message: str, volume: int | None = None):
        super().__init__(message)
        self.volume = volume


class VerificationError(DossierError):
    """A volume or dossier failed its checks: it must not be trusted."""

    exit_code = ExitCode.VERIFICATION_FAILED


class StoreError(DossierError):
    """The object store refused or failed a request."""

    exit_code = ExitCode.UNAVAILABLE


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


def exit_code_of(exc: BaseException) -> ExitCode:
    """The exit code the command ends with when it stops on ``exc``."""
    return getattr(exc, "exit_code", ExitCode.FAILED) if isinstance(exc, DossierError) else ExitCode.FAILED
