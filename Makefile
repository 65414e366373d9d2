# Canopy: `make run` to try it, `make test` to check it. Both set themselves up first.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000
# pytest-xdist workers for the tests: one per core (`make test WORKERS=0` runs in one process).
WORKERS ?= auto
STAMP := $(VENV)/.installed

.PHONY: run test test-fast coverage fuzz lint format setup migrate messages makemessages bench lock worker beat clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# Reinstall only when the pinned requirements change.
$(STAMP): $(BIN)/python requirements.txt requirements-dev.txt
	$(BIN)/pip install --quiet -r requirements.txt -r requirements-dev.txt
	touch $(STAMP)

setup: $(STAMP)

migrate: setup
	$(BIN)/python manage.py migrate --noinput

# The compiled .mo files are committed; rebuild them when gettext is there to do it.
messages: setup
	@if command -v msgfmt >/dev/null; then \
		$(BIN)/python manage.py compilemessages --ignore '.venv/*' >/dev/null && echo "Translations compiled."; \
	else echo "msgfmt not found: using the committed .mo files."; fi

makemessages: setup
	$(BIN)/python manage.py makemessages -l zh_Hans --ignore '.venv/*' --ignore 'tests/*' --ignore 'staticfiles/*' --no-obsolete

run: migrate messages
	$(BIN)/python manage.py seed_demo
	@echo ""
	@echo "  Canopy is running at http://127.0.0.1:$(PORT)/"
	@echo "  Log in as demo / canopy-demo   (Django admin: admin / canopy-admin at /admin/)"
	@echo "  API docs at http://127.0.0.1:$(PORT)/api/docs/   Stop with Ctrl-C."
	@echo ""
	$(BIN)/python manage.py runserver 127.0.0.1:$(PORT)

# The whole suite, as CI runs it: every test, the fuzzer at full strength, line coverage at the end.
test: setup messages
	$(BIN)/python manage.py check --fail-level WARNING
	$(BIN)/python manage.py makemigrations --check --dry-run >/dev/null || \
		(echo "Models changed without a migration: run manage.py makemigrations" && exit 1)
	$(BIN)/pytest -n $(WORKERS) --dist loadscope --no-loadscope-reorder $(PYTEST_ARGS)

# The whole suite again, measuring line coverage (a quarter slower on Python 3.11).
coverage: setup messages
	$(BIN)/pytest -n $(WORKERS) --dist loadscope --no-loadscope-reorder --cov --cov-report= $(PYTEST_ARGS)
	@$(BIN)/coverage report | awk '/^TOTAL/ {print "Line coverage: " $$NF " of " $$2 " statements (coverage report -m lists the lines missed)"}'

# The API fuzzer at full strength: 40 cases an operation instead of the suite's 12.
fuzz: setup
	HYPOTHESIS_PROFILE=thorough $(BIN)/pytest -n $(WORKERS) --dist load tests/api/test_schema.py $(PYTEST_ARGS)

# The inner loop: no browser, no real worker, not the two slow modules (the full demo, the API
# fuzz); pass PYTEST_ARGS=tests/<app> or -k to narrow it further. `make test` stays the gate.
test-fast: setup
	$(BIN)/pytest -n $(WORKERS) --dist loadscope --no-loadscope-reorder -m "not browser and not redis and not slow" $(PYTEST_ARGS)

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports --no-cache

format: setup
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: migrate
	$(BIN)/python bench/run.py

# Regenerate the pinned requirement files from requirements*.in.
lock: $(BIN)/python
	$(BIN)/pip install --quiet pip-tools
	$(BIN)/pip-compile --quiet --strip-extras --no-emit-index-url --no-emit-find-links --no-header \
		--annotation-style=line -o requirements.txt requirements.in
	$(BIN)/pip-compile --quiet --strip-extras --no-emit-index-url --no-emit-find-links --no-header \
		--annotation-style=line -o requirements-dev.txt requirements-dev.in

# The production shape without Docker: run these beside `make run` with REDIS_URL set.
worker: setup
	$(BIN)/celery -A community worker --loglevel INFO

beat: setup
	$(BIN)/celery -A community beat --loglevel INFO --schedule /tmp/canopy-celerybeat-schedule

clean:
	rm -rf $(VENV) staticfiles .pytest_cache .ruff_cache .coverage .coverage.* htmlcov
