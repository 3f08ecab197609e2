"""What a flow run is called and tagged in the Prefect UI, so that an administrator finds a case's runs by its 案号.

A run is named by what it does — ``（2024）豫0727刑初172号 · 第1卷 · 重做``, ``… · room-1/b007 · 处理``,
``… · 重新处理（da-t-31-2017）`` — and tagged with the readable 案号 (``案号:（2024）豫0727刑初172号``), its room
(``room:room-1``) and the case key the CLI finds a paused run by (``dossier-case:<key>``). Runs created by the watcher
or the desk get the name when they are created; every run names itself again once it knows its case (a run started
from the UI or the CLI, a batch whose case only batch.json names).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from pipeline.operations import run_kind_words
from pipeline.storage import case_key

CASE_TAG = "dossier-case:"
"""The tag ``dossier catalogue review`` finds a paused run of a case by (the case key: stable under any spelling)."""
_labelled: dict[str, dict] = {}  # flow run id → what it was labelled with (read by the failure hook)
logger = logging.getLogger("dossier.runs")


def run_name(case_no: str, kind: str, volumes: Iterable[int] = (), room: str = "", batch: str = "",
             profile: str | None = None) -> str:
    """A flow run's name: the case, what part of it, what is done."""
    parts = [case_no or batch or "?"]
    numbers = sorted(set(volumes))
    if numbers:
        parts.append("、".join(f"第{n}卷" for n in numbers))
    elif room and batch:
        parts.append(f"{room}/{batch}")
    word = run_kind_words(kind)
    parts.append(f"{word}（{profile}）" if profile and kind == "reprocess" else word)
    return " · ".join(parts)


def run_tags(case_no: str, room: str = "") -> list[str]:
    """A flow run's tags: the readable 案号, the room, the case key."""
    tags = []
    if case_no:
        tags += [f"案号:{case_no}", CASE_TAG + case_key(case_no)]
    if room:
        tags.append(f"room:{room}")
    return tags


def label_run(case_no: str, kind: str, volumes: Iterable[int] = (), room: str = "", batch: str = "",
              profile: str | None = None) -> None:
    """Name and tag the running flow run by its case (keeping the tags it has); a failure is logged, never fatal."""
    from prefect.client.orchestration import get_client
    from prefect.runtime import flow_run

    if not flow_run.id:
        return
    run_id = str(flow_run.id)
    _labelled[run_id] = {"case_no": case_no, "kind": kind, "room": room, "batch": batch}
    try:
        with get_client(sync_client=True) as client:
            run = client.read_flow_run(flow_run.id)
            client.update_flow_run(flow_run.id, name=run_name(case_no, kind, volumes, room, batch, profile),
                                   tags=sorted({*run.tags, *run_tags(case_no, room)}))
    except Exception as exc:  # noqa: BLE001 - a name is for finding the run, the run goes on without it
        logger.warning("could not name flow run %s after case %s: %s", run_id, case_no, exc)


def labels_of(run_id: str) -> dict:
    """What a run of this process was labelled with (empty when it was not)."""
    return dict(_labelled.get(run_id, {}))
