# `make run` and `make test` each work as the first command on a fresh machine.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PORT ?= 8501
DATA_DIR := /usr/share/datasets/fashion-mnist

.PHONY: run test lint format data browser nginx serve serve-lb venv clean

$(VENV)/.runtime: requirements.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements.txt
	touch $@

$(VENV)/.dev: $(VENV)/.runtime requirements-dev.txt
	$(PY) -m pip install -q -r requirements-dev.txt
	touch $@

# The official dataset from Debian's package when we can install it (root on
# Debian/Ubuntu); otherwise fashion.data.official falls back to $$FASHION_MNIST_DIR, the Keras
# cache or a download, and says which.
data:
	@if [ -f $(DATA_DIR)/t10k-labels-idx1-ubyte.gz ]; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		(apt-get install -y -qq dataset-fashion-mnist || \
		 (apt-get update -qq && apt-get install -y -qq dataset-fashion-mnist)); \
	else echo "note: $(DATA_DIR) missing and apt not usable; see README (Data)"; fi

# Chromium for the browser tests (Playwright's own browser download does not work here).
browser:
	@if command -v chromium >/dev/null; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		(apt-get install -y -qq chromium || (apt-get update -qq && apt-get install -y -qq chromium)); \
	else echo "note: chromium missing; browser tests will be skipped"; fi

venv: $(VENV)/.dev

# nginx for the load-balanced recipe and its test (Debian's package, run as an ordinary
# process by `python -m fashion serve`; its own service is not needed).
nginx:
	@if command -v nginx >/dev/null || [ -x /usr/sbin/nginx ]; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		(apt-get install -y -qq nginx || (apt-get update -qq && apt-get install -y -qq nginx)); \
	else echo "note: nginx missing; the load-balancer test will be skipped"; fi

run: $(VENV)/.runtime data
	FASHION_DEV=1 $(PY) -m streamlit run streamlit_app.py --server.port $(PORT)

# A public server: the model loads at start, public-demo settings (README, "Host it").
serve: $(VENV)/.runtime data
	$(PY) -m fashion serve --port $(PORT)

# K app processes behind nginx on :8080 (LB_PORT), one command.
K ?= 2
LB_PORT ?= 8080
serve-lb: $(VENV)/.runtime data nginx
	$(PY) -m fashion serve --processes $(K) --port $(LB_PORT)

test: $(VENV)/.dev data browser nginx
	$(PY) -m ruff check .
	$(PY) -m pytest

lint: $(VENV)/.dev
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

format: $(VENV)/.dev
	$(PY) -m ruff format .
	$(PY) -m ruff check --fix .

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache test-artifacts
