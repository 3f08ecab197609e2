"""The operators' desk's hand on Prefect (:class:`pipeline.access.desk.Orchestrator`): where a run waits for a
review, resuming it with a reviewer's answer, starting a rerun or a reprocessing (the same deployments as
``dossier rerun --submit`` and ``dossier reprocess --submit``, named by what they do), and a run's page in the UI."""

from __future__ import annotations

from uuid import UUID

from flows.runlabels import run_name, run_tags
from pipeline.access.desk import NotWaiting, OrchestratorUnavailable, Pause

RERUN = "rerun-volume/rerun-volume"
REPROCESS = "reprocess-case/reprocess-case"


def _unreachable(exc: BaseException) -> bool:
    import httpx
    from prefect.exceptions import PrefectHTTPStatusError

    if isinstance(exc, (httpx.TransportError, ConnectionError, TimeoutError, OSError)):
        return True
    return isinstance(exc, PrefectHTTPStatusError) and exc.response.status_code >= 500


def start_deployment(deployment: str, parameters: dict, name: str, tags: list[str]):
    """Create a flow run of a deployment (not waiting for it); the run."""
    from prefect.deployments import run_deployment

    try:
        return run_deployment(deployment, parameters=parameters, timeout=0, as_subflow=False, flow_run_name=name,
                              tags=tags)
    except Exception as exc:
        if _unreachable(exc):
            raise OrchestratorUnavailable(f"Prefect did not answer: {type(exc).__name__}: {exc}") from exc
        raise


def rerun_parameters(case_no: str, volumes: list[int] | None, batch_id: str | None, state: str) -> dict:
    """The rerun-volume deployment's parameters."""
    return {"case_no": case_no, "volumes": volumes or None, "batch_id": batch_id, "state": state}


class PrefectOrchestrator:
    """Prefect (the server of PREFECT_API_URL) as the desk uses it, for runs of the state folder ``home``."""

    def __init__(self, home: str, ui_url: str = ""):
        self.home, self.ui_url = home, ui_url.rstrip("/")

    def pause_of(self, run_id: str) -> Pause | None:
        """Where the run waits for a review (its pause key), or None."""
        from prefect.client.orchestration import get_client

        try:
            with get_client(sync_client=True) as client:
                run = client.read_flow_run(UUID(run_id))
        except ValueError:
            return None
        except Exception as exc:
            if _unreachable(exc):
                raise OrchestratorUnavailable(f"Prefect did not answer: {type(exc).__name__}: {exc}") from exc
            from prefect.exceptions import ObjectNotFound

            if isinstance(exc, ObjectNotFound):
                return None
            raise
        if run.state is None or not run.state.is_paused() or not run.state.state_details.pause_key:
            return None
        return Pause(run_id, run.state.state_details.pause_key)

    def resume(self, run_id: str, answer: dict) -> None:
        """Resume the paused run with the answer (checked by the server against the run's form)."""
        from prefect.exceptions import FlowPauseTimeout
        from prefect.flow_runs import resume_flow_run

        try:
            resume_flow_run(UUID(run_id), run_input=answer)
        except FlowPauseTimeout as exc:
            raise NotWaiting(f"run {run_id}: its review timed out") from exc
        except Exception as exc:
            if type(exc).__name__ == "NotPausedError":
                raise NotWaiting(f"run {run_id} is not paused") from exc
            if _unreachable(exc):
                raise OrchestratorUnavailable(f"Prefect did not answer: {type(exc).__name__}: {exc}") from exc
            raise

    def rerun(self, case_no: str, volumes: list[int], batch_id: str | None, room: str) -> str:
        """Start a rerun of the case's volumes (none: those that failed)."""
        run = start_deployment(RERUN, rerun_parameters(case_no, volumes, batch_id, self.home),
                               run_name(case_no, "rerun", volumes), run_tags(case_no, room))
        return str(run.id)

    def reprocess(self, case_no: str, profile: str | None, room: str) -> str:
        """Start rebuilding a published case under a standard profile."""
        run = start_deployment(REPROCESS, {"case_no": case_no, "profile": profile, "state": self.home},
                               run_name(case_no, "reprocess", profile=profile), run_tags(case_no, room))
        return str(run.id)

    def run_link(self, run_id: str) -> str | None:
        """The run's page in the Prefect UI."""
        return f"{self.ui_url}/runs/flow-run/{run_id}" if self.ui_url else None


def ui_url() -> str:
    """The Prefect UI's address: PREFECT_UI_URL, else the API's without ``/api``."""
    from prefect.settings import PREFECT_API_URL, PREFECT_UI_URL

    configured = PREFECT_UI_URL.value()
    if configured:
        return str(configured)
    api = PREFECT_API_URL.value() or ""
    return api[: -len("/api")] if api.endswith("/api") else ""
