"""Serve the flows from one long-running process, without a work pool or worker (one machine):

    python -m flows.serve [--limit N]

registers process-batch, rerun-volume, reprocess-case and watch-hotfolder as served deployments (same names as in
prefect.yaml: use one way or the other on a server) and runs their flow runs as subprocesses of this process. Start
the watcher as a served run with ``prefect deployment run watch-hotfolder/watch-hotfolder -p hotfolder=/srv/scans``,
or run ``dossier watch`` beside it.
"""

from __future__ import annotations

import argparse


def main() -> None:
    """Serve the four flows until interrupted."""
    parser = argparse.ArgumentParser(prog="python -m flows.serve", description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=None, help="flow runs at once (default: no limit)")
    args = parser.parse_args()
    from prefect import serve

    from flows.process import process_batch
    from flows.rerun import reprocess_case, rerun_volume
    from flows.watch import watch_hotfolder

    serve(process_batch.to_deployment("process-batch", tags=["dossier"]),
          rerun_volume.to_deployment("rerun-volume", tags=["dossier"]),
          reprocess_case.to_deployment("reprocess-case", tags=["dossier"]),
          watch_hotfolder.to_deployment("watch-hotfolder", tags=["dossier", "watcher"]),
          pause_on_shutdown=False, limit=args.limit)


if __name__ == "__main__":
    main()
