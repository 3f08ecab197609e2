"""What a process learns from Prefect about where it runs: the flow run it is in and the API it reports to."""

from __future__ import annotations


def current_flow_run_id() -> str | None:
    """The id of the flow run we are in, if any."""
    from prefect.runtime import flow_run

    return str(flow_run.id) if flow_run.id else None


def current_api_url() -> str | None:
    """The Prefect API this process reports to (a paused run's review is sent there)."""
    from prefect.settings import PREFECT_API_URL

    return PREFECT_API_URL.value() or None
