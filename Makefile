# xcapp: two commands on a fresh machine with Python 3.11+ and make.
#   make run   install into .venv, migrate, load demo data once, serve on :5000
#   make test  install the test extra and system packages, run the whole suite
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
HOST   ?= 127.0.0.1
PORT   ?= 5000
WORKERS ?= 3
# The public address for the QR code and the public record check (production refuses
# to start without it). make run serves plain HTTP, so its cookies cannot be Secure;
# behind TLS give the https:// address and the cookies are Secure again.
PUBLIC_BASE_URL ?= http://$(HOST):$(PORT)
SESSION_COOKIE_SECURE ?= $(if $(filter https://%,$(PUBLIC_BASE_URL)),1,0)
export FLASK_APP := wsgi

.PHONY: run test install install-test system-deps bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Re-install whenever pyproject.toml changes.
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@ $(VENV)/.installed

install: $(VENV)/.installed
install-test: $(VENV)/.installed-test

# Debian packages the test suite needs: chromium for the browser tests, a CJK
# font for their screenshots, poppler-utils to inspect generated PDFs.
SYSTEM_PACKAGES := chromium fonts-noto-cjk poppler-utils
system-deps:
	@missing=""; for p in $(SYSTEM_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  if [ "$$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	fi

instance/secret_key:
	@mkdir -p instance
	@$(BIN)/python -c "import secrets; print(secrets.token_hex(32))" > $@
	@chmod 600 $@

run: install instance/secret_key
	@export SECRET_KEY="$$(cat instance/secret_key)" XCAPP_ENV=production \
	  PUBLIC_BASE_URL="$(PUBLIC_BASE_URL)" SESSION_COOKIE_SECURE="$(SESSION_COOKIE_SECURE)"; \
	$(BIN)/flask db upgrade && \
	$(BIN)/flask demo load --if-empty && \
	echo "xcapp: $(PUBLIC_BASE_URL)" && \
	exec $(BIN)/gunicorn --workers $(WORKERS) --bind $(HOST):$(PORT) --access-logfile - wsgi:app

test: install-test system-deps
	$(BIN)/python -m pytest $(PYTEST_ARGS)

bench: install-test
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis
