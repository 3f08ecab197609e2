# Two commands for a fresh machine: `make demo` and `make test` (see README.md).
SHELL := /bin/bash
VENV := .venv
DOSSIER := $(VENV)/bin/dossier
SAMPLE := samples/case-2024-172
SAMPLE_CASE := （2024）豫0727刑初172号
export DO_NOT_TRACK := 1
export PREFECT_SERVER_ANALYTICS_ENABLED := false
export OMP_THREAD_LIMIT := 1

# Tests run against their own store and state, apart from the demo's.
TEST_HOME := $(CURDIR)/.state-test

.PHONY: setup demo test test-fast store-start store-stop samples schemas messages docs clean up down

setup:
	@scripts/bootstrap.sh

store-start: setup
	@$(DOSSIER) store start

store-stop:
	@$(DOSSIER) store stop

demo: setup
	@scripts/demo.sh "$(SAMPLE)" "$(SAMPLE_CASE)"

test: setup
	@scripts/test.sh

# The same checks and the tests that start no Prefect server, browser or PostgreSQL and take seconds, not minutes
# (markers in pyproject.toml): a few minutes, for a developer between changes. `make test` and CI run everything.
test-fast: setup
	@scripts/test.sh -m "not slow and not browser and not postgres and not soak"

samples: setup
	$(VENV)/bin/python samples/make_samples.py

schemas: setup
	$(VENV)/bin/python -m pipeline.schemas

# The message catalogue: extract what the code says, merge it into each language's .po, compile the .mo files
# (checked in: a fresh clone speaks Chinese without a build step; tests/test_messages.py fails when they drift).
messages: setup
	$(VENV)/bin/python -m pipeline.messages update

# The documentation site (docs/, mkdocs.yml): the configuration reference generated from pipeline/settings.py, then
# the site built into site/ with --strict (tests/test_docs.py does the same and fails when the reference is stale).
docs: setup
	$(VENV)/bin/python scripts/settings_reference.py
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --strict --quiet
	@echo "docs: open site/index.html"

clean:
	rm -rf out .state-test site

# The local operations set: Prefect server, a worker per room, the deployments, the hot-folder watcher
# (docs/operations/services.md). Settings: DOSSIER_HOME, DOSSIER_HOTFOLDER, DOSSIER_ROOMS, PREFECT_PORT, DOSSIER_STORE_PORT.
up: setup
	@$(VENV)/bin/python -m flows.stack up

down:
	@$(VENV)/bin/python -m flows.stack down
