"""Prefect flows and tasks over the pipeline library, and the hot-folder watcher."""
