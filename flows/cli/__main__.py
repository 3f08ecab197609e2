"""``python -m flows.cli``: the `dossier` command."""

from flows.cli import main

main()
