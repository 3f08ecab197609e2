"""The fetch and request APIs fuzzed from their OpenAPI schema with Schemathesis, and the web pages and forms with
Hypothesis: thousands of generated requests against a real service (uvicorn, a private SeaweedFS, an SQLite access
database) with published dossiers and 调卷函.

- API: positive and negative data over every operation of the schema, as real tokens of every role, a malformed
  token and none; every request is checked for a 5xx and for an answer outside the schema (status, content type,
  headers, body); every request that names a case or a request is sent again for an existing case (or request) the
  caller may not see and for one that does not exist, and the two answers must be identical.
- Web (``tests/web_fuzz.py``): every form (sign in, file a 调卷函, its numbers alone, act on a request) and every page
  with a query or path value, as signed-in people of every role with valid CSRF tokens and anonymously: no 5xx, no
  dropped connection, pages with their security headers, redirects to our own pages only, and a case look-up that
  cannot tell an unreadable case from a missing one.

    .venv/bin/python bench/fuzz_api.py [--per-operation 64] [--per-form 200]

Prints the counts (generated cases, requests sent, leak comparisons, statuses, per operation and form) and every
failure; exits 1 when anything was found. The quick versions (a few hundred requests each) are
``tests/test_api_fuzz.py`` and ``tests/test_web_fuzz.py``.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pipeline.storage import EmbeddedStore, StoreConfig, free_base_port
from tests.fuzz_harness import fuzz, start_world
from tests.store_fixtures import EmbeddedStoreHandle
from tests.web_fuzz import fuzz_web


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--per-operation", type=int, default=64,
                        help="cases drawn per operation and generation mode (positive, negative)")
    parser.add_argument("--per-form", type=int, default=200, help="examples drawn per web form and page")
    args = parser.parse_args()
    os.environ.setdefault("DOSSIER_DEVELOPMENT_KEY", "1")
    with tempfile.TemporaryDirectory(prefix="fuzz-api-") as tmp:
        state = Path(tmp) / "state"
        server = EmbeddedStore(state, base_port=free_base_port())
        server.start()
        try:
            store = EmbeddedStoreHandle(server, state, StoreConfig.embedded(state, max_security_level="confidential"))
            with start_world(store, Path(tmp)) as world:
                started, cpu = time.monotonic(), resource.getrusage(resource.RUSAGE_SELF)
                tally = fuzz(world, args.per_operation)
                wall = time.monotonic() - started
                web_started = time.monotonic()
                web = fuzz_web(world, args.per_form)
                web_wall = time.monotonic() - web_started
                used = resource.getrusage(resource.RUSAGE_SELF)
        finally:
            server.stop(timeout=5)
    cpu_s = used.ru_utime + used.ru_stime - cpu.ru_utime - cpu.ru_stime
    print(f"API: generated cases: {tally.cases}  requests sent: {tally.requests}  existence comparisons: "
          f"{tally.leak_pairs}  failures: {len(tally.failures)}  ({wall:.0f} s; both parts {cpu_s:.0f} CPU-s in this "
          f"process, the service included)")
    print("statuses: " + ", ".join(f"{k}: {v}" for k, v in sorted(tally.statuses.items())))
    for label, count in sorted(tally.by_operation.items()):
        print(f"  {count:5d}  {label}")
    if tally.unsatisfiable:
        print("no input of that kind exists: " + ", ".join(tally.unsatisfiable))
    for failure in tally.failures:
        print("FAILURE " + failure)
    print(f"\nweb: requests sent: {web.requests}  look-up comparisons: {web.leak_pairs}  failures: "
          f"{len(web.failures)}  ({web_wall:.0f} s)")
    print("statuses: " + ", ".join(f"{k}: {v}" for k, v in sorted(web.statuses.items())))
    for label, count in sorted(web.by_form.items()):
        print(f"  {count:5d}  {label}")
    for failure in web.failures:
        print("FAILURE " + failure)
    server_errors = sum(v for t in (tally, web) for k, v in t.statuses.items() if k >= 500)
    failures = len(tally.failures) + len(web.failures)
    print(f"\n5xx: {server_errors}  outside the schema, not a page, or leaking: {failures}")
    return 1 if failures or server_errors else 0


if __name__ == "__main__":
    sys.exit(main())
