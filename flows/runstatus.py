"""What a flow run on the Prefect server means to the hot-folder intake, read the same way by the watcher's
deployment submitter and its in-process one: whether to ask again later, and whether the run is over and how."""

from __future__ import annotations

from pipeline.operations import RunStatus


def unreachable(exc: BaseException) -> bool:
    """Errors that mean "ask again later": connection failures, timeouts, 5xx answers."""
    import httpx
    from prefect.exceptions import PrefectHTTPStatusError

    if isinstance(exc, (httpx.TransportError, ConnectionError, TimeoutError, OSError)):
        return True
    if isinstance(exc, PrefectHTTPStatusError):
        return exc.response.status_code >= 500 or exc.response.status_code in (408, 429)
    return False


def status_of(run) -> RunStatus:
    """What a flow run read from the server says to the intake: final or not, and how it ended. Whose fault a
    failure was is not read from its message: the run recorded its error's class in the ledger."""
    state = run.state
    if state is None or not state.is_final():
        return RunStatus(final=False, paused=bool(state and state.is_paused()))
    message = f"{state.name}: {state.message or ''}".strip()
    return RunStatus(final=True, ok=state.is_completed(), message=message, starts=run.run_count,
                     retryable=state.is_crashed() or state.is_failed())
