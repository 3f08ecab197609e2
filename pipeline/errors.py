"""Exceptions the pipeline raises; each message names the file, page or volume it is about."""


class DossierError(Exception):
    """Base class for errors that stop a batch, a volume or a request with a clear message."""


class ProfileError(DossierError):
    """A standard profile is missing or invalid."""


class BadInputError(DossierError):
    """A batch holds a file that cannot be processed; the batch is stopped or quarantined, never modified."""

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


class StoreError(DossierError):
    """The object store refused or failed a request."""


class CaseNumberError(DossierError):
    """A string is not a plausible case number."""


class ReviewNeeded(DossierError):
    """The batch needs a human decision (e.g. a separator sheet that cannot be decoded)."""
