# `make run` — the product, embedded (SQLite, no services); `make test` — the whole suite
# against PostgreSQL and Redis on localhost. Both create the virtualenv on first use.
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
PORT ?= 8000

.PHONY: venv run test bench check-deploy clean

$(STAMP): requirements.txt requirements-dev.txt
	@test -x $(PY) || "$$(bin/find-python)" -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	@touch $(STAMP)

venv: $(STAMP)

run: venv
	PORT=$(PORT) $(PY) manage.py runproduct

test: venv
	@$(PY) bin/check-services
	$(PY) -m pytest $(PYTEST_ARGS)

bench: venv
	@$(PY) bin/check-services
	$(PY) bench/send.py

clean:
	rm -rf $(VENV) var test-output
