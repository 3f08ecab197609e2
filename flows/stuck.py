"""The watcher's backstop for runs the server's automations should have crashed and did not.

automations.yaml has the server mark a run Crashed when its worker or process died: Pending for 180 s, Running
without a heartbeat for 90 s. Each waits in the server's trigger state, and a Prefect server killed inside such a wait
can come back without it (the soak run, seed 2026: a run a killed worker left Pending stayed Pending for 25 min, and
its batch with it). The watcher follows its runs anyway; past ``limit`` seconds of a run Pending, or Running whose
last heartbeat is that old, it marks the run Crashed itself, and the run is retried like any other crashed run.
A Running run that never sent a heartbeat is left to the third automation: without `make up`'s heartbeat setting a
healthy run never sends one.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime

HEARTBEAT = "prefect.flow-run.heartbeat"


class StuckRuns:
    """Finds and crashes a followed run stuck Pending, or Running with a heartbeat that stopped, past ``limit`` s."""

    def __init__(self, limit: float, look_every: float = 30.0):
        self.limit = limit
        self.look_every = look_every  # heartbeats are read from the events API: not on every tick of the watcher
        self._looked: dict[str, float] = {}

    def check(self, client, run):
        """The run's state, after marking it Crashed when it is stuck."""
        state = run.state
        if state is None or not state.is_running():
            self._looked.pop(str(run.id), None)  # only a Running run has its heartbeats looked at
        if state is None or not (state.is_pending() or state.is_running()) or self._age(state.timestamp) <= self.limit:
            return state
        if state.is_pending():
            return self._crash(client, run, f"pending for over {self.limit:g} s ({state.name} since "
                                            f"{state.timestamp:%H:%M:%S} UTC): the worker that took the run died "
                                            f"before it started")
        key = str(run.id)
        if time.monotonic() - self._looked.get(key, float("-inf")) < self.look_every:
            return state
        self._looked[key] = time.monotonic()
        beat = last_heartbeat(client, run.id, state.timestamp)
        if beat is None or self._age(beat) <= self.limit:
            return state
        return self._crash(client, run, f"no heartbeat for over {self.limit:g} s (the last at {beat:%H:%M:%S} UTC): "
                                        f"the flow run's process is gone")

    @staticmethod
    def _age(when: datetime) -> float:
        return (datetime.now(UTC) - when).total_seconds()

    def _crash(self, client, run, why: str):
        from prefect.states import Crashed

        self._looked.pop(str(run.id), None)
        client.set_flow_run_state(run.id, Crashed(message=f"{why}; marked by the hot-folder watcher"), force=True)
        return client.read_flow_run(run.id).state


def last_heartbeat(client, run_id, since: datetime) -> datetime | None:
    """When the run's newest heartbeat since ``since`` occurred (None: it sent none)."""
    found = client.request("POST", "/events/filter", json={
        "filter": {"any_resource": {"id": [f"prefect.flow-run.{run_id}"]}, "event": {"name": [HEARTBEAT]},
                   "occurred": {"since": since.isoformat()}, "order": "DESC"},
        "limit": 1})
    events = found.json().get("events", [])
    return datetime.fromisoformat(events[0]["occurred"]) if events else None
