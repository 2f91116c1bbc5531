# The portal's commands: make run, make test, make bench (see README.md).
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
CHROMIUM := /usr/bin/chromium

.PHONY: run test bench lint typecheck migrate browser clean messages

$(PY):
	"$$(scripts/find-python)" -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

$(VENV)/.installed: $(PY) requirements.txt
	$(PY) -m pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.installed-dev: $(VENV)/.installed requirements-dev.txt
	$(PY) -m pip install --quiet -r requirements.txt -r requirements-dev.txt
	touch $@

migrate: $(VENV)/.installed
	$(PY) manage.py migrate --noinput

run: migrate
	$(PY) manage.py seed_demo
	-$(PY) manage.py import_price_sheet --if-missing
	-$(PY) manage.py sync_subscriptions
	$(PY) manage.py collectstatic --noinput -v0
	scripts/run-dev

# The browser tests drive Debian's Chromium; install it when we can (root with apt-get).
browser:
	@if [ ! -x $(CHROMIUM) ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  else echo "Chromium is missing: install Debian's chromium package, or the browser tests are skipped."; fi; \
	fi

test: $(VENV)/.installed-dev browser
	$(PY) manage.py makemigrations --check --dry-run >/dev/null || (echo "Models and migrations disagree: run makemigrations." && exit 1)
	$(PY) -m pytest -n auto

bench: $(VENV)/.installed-dev
	$(PY) bench/run.py

# Extract the strings into locale/{nl,fr}/LC_MESSAGES/django.po and compile them (pure Python, no GNU gettext).
messages: $(VENV)/.installed
	$(PY) manage.py catalogues

lint: $(VENV)/.installed-dev
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

typecheck: $(VENV)/.installed-dev
	$(PY) -m mypy portal config

clean:
	rm -rf $(VENV) staticfiles .pytest_cache
