"""The `dossier` command, one module per command group; errors end with the exit codes of
:class:`pipeline.errors.ExitCode`.

=================  ===================================================================================================
``process``        one batch folder into a signed, checked, published dossier (process.py: also rerun, reprocess)
``catalogue``      the 卷内目录 review of a paused run (catalogue.py)
``watch``          hot folders (watch.py)
``status``         every batch's state and the next step, a case's history; ``requeue`` (operators.py)
``store``          the embedded object store (store.py)
``serve``          the fetch service, tokens, grants and the audit log (access.py)
``request``        调卷函: file, list, act, report (request.py)
``user``, ``db``   people who sign in, with their roles; the access database (users.py)
``fetch``          a dossier by case number (fetch.py)
``verify``         the four-property check of a volume, a folder or a case (verify.py)
``disclose``       a case's disclosure copy (阅卷版) under a profile, reviewed and published (disclose.py)
``trace``          who fetched a copy, when, under which 调卷函 (trace.py)
``search``         full-text search, the index rebuilt (``search reindex``); ``withdraw`` a dossier (search.py)
``sheets``         separator sheets to print (sheets.py)
=================  ===================================================================================================
"""

from flows.cli import (  # noqa: F401  (each adds its commands)
    access,
    catalogue,
    disclose,
    fetch,
    operators,
    process,
    request,
    search,
    sheets,
    store,
    trace,
    users,
    verify,
    watch,
)
from flows.cli._common import app


def main() -> None:
    """Entry point of the console script."""
    app()


__all__ = ["app", "main"]
