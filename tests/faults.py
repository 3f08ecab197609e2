"""Faults the tests inject into the product from outside it: a volume build that fails on purpose.

In this process a test patches :func:`pipeline.dossier.make_volume` (:func:`fail_volumes`). A flow run started by a
Prefect worker is another process: its job's environment names the volumes (``FAULT_ENV``) and puts
``tests/faults_site`` on PYTHONPATH, whose ``sitecustomize`` applies the same patch there (:func:`site_environment`).
"""

from __future__ import annotations

import os
from pathlib import Path

FAULT_ENV = "DOSSIER_TEST_FAIL_VOLUME"
"""Comma-separated volume numbers whose build fails (read only by the test site hook, never by the product)."""
FAULT_WHILE_ENV = "DOSSIER_TEST_FAIL_VOLUME_WHILE"
"""A file; when set, the fault fires only while that file exists (to test a retry)."""
SITE = Path(__file__).resolve().parent / "faults_site"
ROOT = Path(__file__).resolve().parent.parent


def fail_volumes(numbers: set[int], while_file: Path | None = None) -> None:
    """Make the build of these volumes fail (in this process) with a VolumeError naming the fault."""
    import pipeline.dossier as dossier
    from pipeline.errors import VolumeError

    real = getattr(dossier.make_volume, "real", dossier.make_volume)

    def make_volume(plan, pages, context, *args, **kwargs):
        if plan.number in numbers and (while_file is None or while_file.exists()):
            raise VolumeError(f"volume {plan.number} of case {context.case_no} failed: fault injected by "
                              f"{FAULT_ENV} (tests only)", plan.number)
        return real(plan, pages, context, *args, **kwargs)

    make_volume.real = real  # type: ignore[attr-defined]
    dossier.make_volume = make_volume


def heal_volumes() -> None:
    """Undo :func:`fail_volumes`."""
    import pipeline.dossier as dossier

    dossier.make_volume = getattr(dossier.make_volume, "real", dossier.make_volume)


def site_environment(numbers: set[int], while_file: Path | None = None) -> dict[str, str]:
    """Environment for a child process (a Prefect job) in which these volumes fail."""
    env = {FAULT_ENV: ",".join(map(str, sorted(numbers))),
           "PYTHONPATH": os.pathsep.join([str(SITE), str(ROOT)])}
    if while_file is not None:
        env[FAULT_WHILE_ENV] = str(while_file)
    return env


CRASH_ENV = "DOSSIER_TEST_CRASH_CASE"
"""A case number whose run raises an error nobody foresaw (RecursionError) after its pages, while ``CRASH_WHILE_ENV``
names a file that exists."""
CRASH_WHILE_ENV = "DOSSIER_TEST_CRASH_WHILE"


def crash_case(case_no: str, while_file: Path) -> None:
    """Make the runs of one case crash, in this process, with an error no check foresaw, while the file exists."""
    import pipeline.dossier as dossier

    real = getattr(dossier.require_content, "real", dossier.require_content)

    def require_content(artifacts, case, *args, **kwargs):
        if case == case_no and while_file.exists():
            raise RecursionError(f"maximum recursion depth exceeded (injected by {CRASH_ENV}, tests only)")
        return real(artifacts, case, *args, **kwargs)

    require_content.real = real  # type: ignore[attr-defined]
    dossier.require_content = require_content


def install_from_environment() -> None:
    """The site hook's body: apply the faults the environment names."""
    if os.environ.get(CRASH_ENV):
        crash_case(os.environ[CRASH_ENV], Path(os.environ[CRASH_WHILE_ENV]))
    wanted = {int(v) for v in os.environ.get(FAULT_ENV, "").split(",") if v.strip()}
    if wanted:
        flag = os.environ.get(FAULT_WHILE_ENV)
        fail_volumes(wanted, Path(flag) if flag else None)
    if os.environ.get(ENOSPC_ENV):
        fail_writes_while(Path(os.environ[ENOSPC_ENV]))


ENOSPC_ENV = "DOSSIER_TEST_ENOSPC_WHILE"
"""A file; while it exists, :func:`pipeline.common.write_atomic` fails with ENOSPC (the soak run's disk-full fault
where no small filesystem can be mounted for the state folder)."""


def fail_writes_while(flag: Path) -> None:
    """Make ``write_atomic`` raise ENOSPC (no space left on device) while ``flag`` exists, in this process."""
    import errno

    import pipeline.common as common
    import pipeline.common.files as files

    real = getattr(files.write_atomic, "real", files.write_atomic)

    def write_atomic(path, data, **kwargs):
        if flag.exists():
            raise OSError(errno.ENOSPC, f"No space left on device (injected by {ENOSPC_ENV}, tests only)", str(path))
        return real(path, data, **kwargs)

    write_atomic.real = real  # type: ignore[attr-defined]
    files.write_atomic = common.write_atomic = write_atomic
