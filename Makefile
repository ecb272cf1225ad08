# Two commands on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
OUT ?= demo-output

.PHONY: demo test install lint typecheck clean ensure-browser ensure-postgres

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

# torch==2.13.0 first and explicitly: a CPU build lies on disk; an unpinned torch pulls CUDA.
$(STAMP): pyproject.toml | $(VENV)/bin/python
	$(PY) -m pip install --quiet torch==2.13.0
	$(PY) -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/oncofusion demo --out $(OUT)

test: $(STAMP) ensure-browser ensure-postgres
	$(PY) -m pytest -q -n 2 --dist loadfile

# The report tests open the reports in Debian's chromium (driven by Playwright; never run
# 'playwright install', it downloads another browser) and turn the PDFs into images with
# poppler's pdftoppm/pdftotext. Installed from apt only when missing (root or sudo).
BROWSER_PKGS := chromium chromium-driver poppler-utils fonts-dejavu-core
ensure-browser:
	@if command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1 \
	    && command -v pdftoppm >/dev/null 2>&1 && command -v pdftotext >/dev/null 2>&1; then \
	  echo "ensure-browser: chromium, chromedriver, pdftoppm and pdftotext are installed"; \
	else \
	  SUDO=$$([ "$$(id -u)" = 0 ] || echo sudo); \
	  $$SUDO apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends $(BROWSER_PKGS); \
	fi

lint: $(STAMP)
	$(VENV)/bin/ruff check src tests

typecheck: $(STAMP)
	$(VENV)/bin/mypy

clean:
	rm -rf $(VENV) $(OUT) .pytest_cache

# Debian's PostgreSQL server for tests/serve (they start a throw-away cluster on 127.0.0.1 with it)
ensure-postgres:
	@ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || { \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql; }
