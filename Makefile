# CityGIS — `make run` serves the demo on http://127.0.0.1:8000, `make test` runs the whole suite.
# Both do the whole set-up first (scripts/setup.sh) and are idempotent.
SHELL := /bin/bash
HOST ?= 127.0.0.1
PORT ?= 8000
WORKERS ?= 3
VENV := .venv/bin

.PHONY: setup run test bench lint clean-var cluster

setup:
	./scripts/setup.sh

run: setup
	rm -rf var/prometheus && mkdir -p var/prometheus  # per-worker metric files (city_gis/metrics.py), fresh per start
	export REDIS_URL="$${REDIS_URL:-redis://127.0.0.1:6379/1}" CITYGIS_RENDERER="$${CITYGIS_RENDERER:-fastcgi}"; \
	$(VENV)/citygis generate_mapconfig >/dev/null; \
	$(VENV)/citygis renderer & renderer_pid=$$!; \
	$(VENV)/citygis run_jobs & jobs_pid=$$!; \
	$(VENV)/citygis hazard_consumer & hazard_pid=$$!; \
	trap 'kill $$renderer_pid $$jobs_pid $$hazard_pid 2>/dev/null' EXIT INT TERM; \
	PROMETHEUS_MULTIPROC_DIR="$(CURDIR)/var/prometheus" \
	REDIS_URL="$${REDIS_URL:-redis://127.0.0.1:6379/1}" $(VENV)/gunicorn city_gis.wsgi:application \
	  --bind $(HOST):$(PORT) --workers $(WORKERS) --threads 4 --timeout 120 --control-socket var/gunicorn.ctl \
	  --access-logfile - --access-logformat '%(h)s %(t)s "%(m)s %(U)s %(H)s" %(s)s %(b)s %(L)ss "%(a)s"'

# The suite builds its own small demo city in the test database: the full 90-day demo history is not loaded here.
test:
	SETUP_STEPS="packages qgis services browser db venv migrate mapconfig" ./scripts/setup.sh
	$(VENV)/lint-imports
	$(VENV)/pytest

# Two app nodes behind nginx, a streaming read replica, the shared Redis tile cache, job workers (docs/scaling.md).
cluster: setup
	./scripts/cluster.sh

bench: setup
	$(VENV)/python -m bench

lint:
	$(VENV)/ruff check .
	$(VENV)/lint-imports
