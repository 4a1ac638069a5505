# `make run` — the product, embedded (SQLite, no services); `make test` — ruff, then the whole
# suite against PostgreSQL and Redis on localhost. Both create the virtualenv on first use.
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
PORT ?= 8000

.PHONY: venv run test lint bench bench-import bench-admin check-deploy clean

$(STAMP): requirements.txt requirements-dev.txt
	@test -x $(PY) || "$$(bin/find-python)" -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	@touch $(STAMP)

MO := locale/ru/LC_MESSAGES/django.mo

# Russian for django-unfold's strings; without gettext's msgfmt they stay in English.
$(MO): locale/ru/LC_MESSAGES/django.po $(STAMP)
	@if command -v msgfmt >/dev/null; then DEBUG=True $(PY) manage.py compilemessages -l ru --ignore=.venv -v 0; \
	else echo "msgfmt (gettext) not found: some admin strings stay in English"; fi

venv: $(STAMP) $(MO)

run: venv
	PORT=$(PORT) $(PY) manage.py runproduct

# The written style (pyproject.toml): lint and format, checked before any test runs.
lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

test: lint
	@$(PY) bin/check-services
	$(PY) -m pytest $(PYTEST_ARGS)

bench: venv
	@$(PY) bin/check-services
	$(PY) bench/send.py
	$(PY) bench/import_bounds.py
	$(PY) bench/import_speed.py
	$(PY) bench/admin_scale.py

# The 10 000-row import alone: preview and confirm against openpyxl's read of the same file.
bench-import: venv
	@$(PY) bin/check-services
	$(PY) bench/import_speed.py

# The admin pages at a million rows (seeds a scratch database, 2–6 min, then measures and
# drops it); BENCH_ADMIN_ARGS=--keep keeps it, --reuse measures the kept one again.
bench-admin: venv
	@$(PY) bin/check-services
	$(PY) bench/admin_scale.py $(BENCH_ADMIN_ARGS)

# Django's deployment checks with production-like values (tests/test_ops.py runs the same).
check-deploy: venv
	DEBUG=False SECRET_KEY="$$($(PY) -c 'import secrets; print(secrets.token_urlsafe(50))')" \
	MAILER_SECRETS_KEY="$$($(PY) -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())')" \
	ALLOWED_HOSTS=crm.example.com MAILER_PUBLIC_BASE_URL=https://crm.example.com \
	$(PY) manage.py check --deploy --fail-level WARNING

clean:
	rm -rf $(VENV) var test-output
