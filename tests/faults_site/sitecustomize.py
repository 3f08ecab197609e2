"""Loaded at start-up by Python processes the fault tests start (PYTHONPATH): applies tests.faults' faults."""

import os

if os.environ.get("DOSSIER_TEST_FAIL_VOLUME") or os.environ.get("DOSSIER_TEST_ENOSPC_WHILE") or \
        os.environ.get("DOSSIER_TEST_CRASH_CASE"):
    from tests.faults import install_from_environment

    install_from_environment()
