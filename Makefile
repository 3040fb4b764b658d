# Two commands for a fresh machine: `make demo` and `make test`. Both install what is missing.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
PYTEST_FLAGS ?=
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: demo test test-fast test-slow test-integration lint system-packages venv migrate clean bench check-clients messages

$(STAMP): requirements.txt requirements-dev.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $(STAMP)

venv: $(STAMP)

system-packages:
	./scripts/ensure_system_packages.sh

migrate: venv
	$(PY) manage.py migrate --noinput

demo: venv migrate
	$(PY) manage.py demo
	@echo "Serving on http://$(HOST):$(PORT)/ (API docs /api/v1/docs/, admin /admin/)"
	$(PY) manage.py runserver $(HOST):$(PORT)

# The whole suite: lint, static checks, fast tests (SQLite, eager tasks), the slow tests (RL
# training and other long runs, same setting), then the integration tests against a throwaway PostgreSQL cluster, Redis server and a real Celery worker.
test: venv system-packages lint
	$(PY) manage.py check
	$(PY) manage.py makemigrations --check --dry-run
	$(PY) manage.py spectacular --validate --fail-on-warn --file /dev/null
	# The app's clients from the live schema: openapi-spec-validator, openapi-python-client
	# (no warning), openapi-generator dart-dio and dart (no undefined type); the generator's
	# jar ships in its pip package inside $(VENV), so this runs offline.
	$(PY) scripts/check_api_clients.py
	DJANGO_ENV=production DJANGO_SECRET_KEY=ci-only-$$(head -c 48 /dev/urandom | base64 | tr -dc A-Za-z0-9) \
	  DJANGO_ALLOWED_HOSTS=example.com DATABASE_URL=sqlite:////tmp/deploy-check.sqlite3 \
	  BROKER_CREDENTIALS_KEYS=$$($(PY) -c "from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())") \
	  $(PY) manage.py check --deploy --fail-level WARNING
	$(PY) -m pytest -m "not integration and not slow" -n auto $(PYTEST_FLAGS)
	$(PY) -m pytest -m "slow and not integration" $(PYTEST_FLAGS)
	$(PY) -m pytest -p tests.integration.services -m integration tests/integration $(PYTEST_FLAGS)

test-fast: venv
	$(PY) -m pytest -m "not integration and not slow" -n auto $(PYTEST_FLAGS)

# The long learning and training tests (`@pytest.mark.slow`), a stage of `make test` of their own.
test-slow: venv
	$(PY) -m pytest -m "slow and not integration" $(PYTEST_FLAGS)

test-integration: venv system-packages
	$(PY) -m pytest -p tests.integration.services -m integration tests/integration $(PYTEST_FLAGS)

# Translation catalogues: the template (locale/django.pot) from every gettext call, the German
# catalogue filled from scripts/i18n_de.py, compiled to the .mo Django reads.
messages: venv system-packages
	$(PY) manage.py makemessages -l de --keep-pot --no-location --ignore=.venv --ignore=tests --ignore=var \
	  --ignore=staticfiles --ignore=bench --ignore=docs
	$(PY) scripts/i18n_de.py
	$(PY) manage.py compilemessages -l de --ignore=.venv

check-clients: venv
	$(PY) scripts/check_api_clients.py

# Static checks, first in `make test`: ruff, and mypy on the engines (both set up in pyproject.toml).
# `ruff format --check` is not run: most of the tree predates the formatter, and reformatting it
# all at once would bury the history of every line.
lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy

clean:
	rm -rf $(VENV) var staticfiles
