"""The soak run's closing checks, once every fault is over and the stack has drained.

- every batch dropped is in ``done/`` exactly once, or in ``quarantine/`` with a ``reason.txt`` (the second copies of
  a batch dropped twice and the batches with a cut page, and only those), byte for byte as dropped;
- every done batch's dossier fetches through the fetch service (every SHA-256 and signature checked) and passes
  ``dossier verify``; its case has exactly one manifest version (no double publish);
- no partial dossier (objects of a case without a dossier.json) unless its batch is quarantined; no claim left in
  ``.processing``; no ledger entry unsettled; the audit chain verifies.
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from bench.soak_drops import Drop

ROOT = Path(__file__).resolve().parent.parent
DOSSIER = [sys.executable, "-m", "flows.cli"]


@dataclass
class Verdict:
    """What the checks found; ``problems`` is empty when everything holds."""

    done: int = 0
    quarantined: Counter = field(default_factory=Counter)
    lost: list[str] = field(default_factory=list)
    duplicated: list[str] = field(default_factory=list)
    partial: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    fetched: int = 0

    @property
    def ok(self) -> bool:
        """Nothing lost, doubled, partial or otherwise wrong."""
        return not (self.lost or self.duplicated or self.partial or self.problems)


def _copies(hot: Path, outcome: str, drop: Drop) -> list[Path]:
    folder = hot / outcome / drop.room
    pattern = re.compile(re.escape(drop.name) + r"(~\d+)?")
    return sorted(p for p in folder.iterdir() if pattern.fullmatch(p.name)) if folder.is_dir() else []


def _same_files(folder: Path, source: Path) -> bool:
    got = {p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*") if p.is_file()
           and p.name not in ("READY", "reason.txt")}
    want = {p.relative_to(source).as_posix(): p.read_bytes() for p in source.rglob("*") if p.is_file()}
    return got == want


def check_outcomes(hot: Path, drops: list[Drop], sources: dict[str, Path], verdict: Verdict) -> None:
    """Every copy dropped has one outcome, the one it should have, with its files as dropped."""
    for drop in drops:
        done, quarantined = _copies(hot, "done", drop), _copies(hot, "quarantine", drop)
        copies = 2 if drop.again_at is not None else 1
        found = len(done) + len(quarantined)
        if found < copies:
            verdict.lost.append(f"{drop.label}: {copies} dropped, {found} found in done/ and quarantine/")
        expected_done = 0 if drop.corrupt else 1
        if len(done) > expected_done:
            verdict.duplicated.append(f"{drop.label}: {len(done)} copies in done/")
        elif len(done) < expected_done and found >= copies:
            verdict.problems.append(f"{drop.label}: not in done/ (quarantined: "
                                    f"{[_reason(q) for q in quarantined]})")
        for q in quarantined:
            reason = _reason(q)
            kind = "duplicate" if "duplicate" in reason else "corrupt" if drop.corrupt else "other"
            verdict.quarantined[kind] += 1
            if kind == "other" or (kind == "corrupt" and drop.cut_page not in reason):
                verdict.problems.append(f"{drop.label}: quarantined at {q.name}: {reason[-300:]}")
        verdict.done += len(done)
        for folder in done + quarantined:
            if not _same_files(folder, sources[drop.label]):
                verdict.problems.append(f"{drop.label}: {folder} does not hold the files as dropped")


def _reason(folder: Path) -> str:
    try:
        return (folder / "reason.txt").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return "(no reason.txt)"


def check_leftovers(hot: Path, state: Path, verdict: Verdict) -> None:
    """No claim left in .processing, nothing waiting in a room, every ledger entry settled."""
    from pipeline.operations import Ledger

    processing = hot / ".processing"
    claims = [p for p in processing.glob("*/*")] if processing.is_dir() else []
    if claims:
        verdict.problems.append(f"orphaned claims in .processing: {[str(c) for c in claims]}")
    for room in hot.iterdir():
        if room.name not in ("done", "quarantine") and not room.name.startswith(".") and room.is_dir():
            waiting = [p.name for p in room.iterdir() if p.is_dir()]
            if waiting:
                verdict.problems.append(f"still waiting in room {room.name}: {waiting}")
    unsettled = [f"{e.room}/{e.batch}: {e.state}" for e in Ledger(state).entries() if e.state not in
                 ("done", "quarantined")]
    if unsettled:
        verdict.problems.append(f"ledger entries not settled: {unsettled}")


def check_ledger(state: Path, store, drops: list[Drop], verdict: Verdict) -> None:
    """The ledger against the store: one entry per batch, its second copies counted in it, and exactly one manifest
    version per fingerprint that ended done (none for one quarantined)."""
    from pipeline.operations import Ledger
    from pipeline.storage import manifest_versions

    entries = Ledger(state).entries()
    if len(entries) != len(drops):
        verdict.problems.append(f"the ledger has {len(entries)} entries for {len(drops)} batches")
    dropped_twice = {(d.room, d.name) for d in drops if d.again_at is not None}
    for entry in entries:
        if bool(entry.duplicates) != ((entry.room, entry.batch) in dropped_twice):
            verdict.problems.append(f"{entry.room}/{entry.batch}: the ledger counts {len(entry.duplicates)} "
                                    f"duplicate(s)")
        versions = len(manifest_versions(store, entry.case_no)) if entry.case_no else 0
        if versions != (1 if entry.state == "done" else 0):
            target = verdict.duplicated if versions > 1 else verdict.problems
            target.append(f"{entry.room}/{entry.batch} ({entry.fingerprint[:12]}, {entry.state}): {versions} manifest "
                          f"version(s) of case {entry.case_no}")


def check_store(store, hot: Path, drops: list[Drop], verdict: Verdict) -> None:
    """One manifest version per done batch; no objects of a case without its dossier.json unless quarantined."""
    from pipeline.storage import case_key, manifest_versions

    by_key = {case_key(d.case_no): d for d in drops}
    for drop in drops:
        versions = manifest_versions(store, drop.case_no)
        want = 0 if drop.corrupt else 1
        if len(versions) != want:
            target = verdict.duplicated if len(versions) > want else verdict.problems
            target.append(f"{drop.label}: case {drop.case_no} has {len(versions)} manifest version(s), expected "
                          f"{want}")
    with_manifest, with_objects = set(), set()
    for info in store.list_keys("cases/"):
        parts = info.key.split("/")
        if len(parts) < 3:
            continue
        (with_manifest if parts[2] == "dossier.json" else with_objects).add(parts[1])
    for key in sorted(with_objects - with_manifest):
        drop = by_key.get(key)
        # excused only when the batch itself was quarantined (not done), and its reason.txt says why
        quarantined = drop is not None and not _copies(hot, "done", drop) and any(
            "duplicate" not in _reason(q) for q in _copies(hot, "quarantine", drop))
        if not quarantined:
            verdict.partial.append(f"case key {key}: objects without dossier.json"
                                   + (f" ({drop.label})" if drop else " (unknown case)"))


def _dossier(args: list[str], env: dict[str, str], timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run([*DOSSIER, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)


def check_dossiers(drops: list[Drop], serve_url: str, token: str, state: Path, out: Path, verdict: Verdict) -> None:
    """Every done batch's dossier fetched through the fetch service (what `dossier fetch --server` does: every
    SHA-256 and signature checked, each volume a copy marked for the reader and made from the volume the manifest
    names) and verified (what `dossier verify` does: the four properties and qpdf)."""
    from flows.cli.fetch import copy_check, trust_roots, volume_verifier
    from flows.cli.verify import verify_target
    from pipeline.archival import development_certificate
    from pipeline.settings import StateLayout
    from pipeline.storage import fetch_via_server

    # the stack signs with the development key (DOSSIER_DEVELOPMENT_KEY=1 in its environment, not this process's)
    dev = development_certificate(StateLayout(state).signing)
    roots = trust_roots([dev] if dev.exists() else [], state)
    verify_pdf = volume_verifier(roots)
    for drop in drops:
        if drop.corrupt:
            continue
        try:
            folder = fetch_via_server(serve_url, token, drop.case_no, out, verify_pdf, copy_check=copy_check)
            report = verify_target(folder, roots, None, qpdf=True)
        except Exception as exc:  # noqa: BLE001 - a check that fails is a finding, not the end of the checks
            verdict.problems.append(f"{drop.label}: fetch failed: {type(exc).__name__}: {exc}")
            continue
        if not report.summary.passed:
            failed = [f"{c.name} {c.subject}: {c.detail}" for c in report.checks if not c.passed]
            verdict.problems.append(f"{drop.label}: verify failed: {failed[:5]}")
            continue
        verdict.fetched += 1


def check_audit(state: Path, env: dict[str, str], verdict: Verdict) -> str:
    """`dossier audit verify`; returns its summary line."""
    done = _dossier(["audit", "verify", "--state", str(state)], env, timeout=300)
    if done.returncode != 0:
        verdict.problems.append(f"dossier audit verify failed ({done.returncode}): {(done.stdout + done.stderr)[-600:]}")
    return done.stdout.strip().splitlines()[-1] if done.stdout.strip() else done.stderr.strip()[-200:]
