"""Third-party warnings nobody running the pipeline can act on, filtered once, at the edges (the `dossier` command,
the flows a worker runs): they buried the one line that matters (``error: …``) on every command."""

from __future__ import annotations

import warnings

KNOWN = [
    # pyHanko imports cryptography's DSA, which cryptography deprecates; we never sign or verify with DSA keys
    dict(message=r"DSA is deprecated", module=r"pyhanko(\..*)?$"),
    # inotify keeps watching a claimed folder under its new name and warns when it is re-added
    dict(message=r"Callback with id", category=RuntimeWarning, module=r"watchdog\.observers\.inotify"),
]


def quiet_third_party_warnings() -> None:
    """Ignore the known third-party warnings of :data:`KNOWN` (each by message and module: nothing else)."""
    for known in KNOWN:
        warnings.filterwarnings("ignore", **known)
