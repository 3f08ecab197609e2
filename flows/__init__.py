"""Prefect flows and tasks over the pipeline library, and the hot-folder watcher."""

from flows.quiet import quiet_third_party_warnings

quiet_third_party_warnings()  # once, for every edge: the command line, the flows a worker runs, the services
