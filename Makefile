# A Makefile people can guess. Every target sets up .venv on its own when it is missing.
PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: install install-bench format lint typecheck test test-fast test-embeddings test-compat bench bench-locomo notebooks demo studio clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev,postgres]"
	@touch $(STAMP)

install: $(STAMP)

format: $(STAMP)
	$(BIN)/ruff format src tests benchmarks notebooks
	$(BIN)/ruff check --fix src tests benchmarks notebooks

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks notebooks
	$(BIN)/ruff format --check src tests benchmarks notebooks

typecheck: $(STAMP)
	$(BIN)/mypy

# The whole suite on two workers; the tests that share the session's langgraph dev
# server are one xdist group, so only one worker starts it (tests/README.md).
test: $(STAMP)
	$(BIN)/pytest -p no:cacheprovider -n 2 --dist loadgroup

# The unit tests (tests/unit) without their PostgreSQL and Redis cases: no server needed.
test-fast: $(STAMP)
	$(BIN)/pytest -p no:cacheprovider -n 2 --dist loadgroup tests/unit -m "not postgres and not redis"

# The [embeddings] extra's tests, in a venv of their own: with the extra
# installed, recall="auto" fuses BM25 with MiniLM, which the main suite does not
# assume. torch comes from the machine's local CPU wheel (torch==2.13.0).
EMB_VENV  := .venv-embeddings
EMB_STAMP := $(EMB_VENV)/.installed
$(EMB_STAMP): pyproject.toml
	@test -x $(EMB_VENV)/bin/python || $(PYTHON) -m venv $(EMB_VENV)
	$(EMB_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(EMB_VENV)/bin/python -m pip install --quiet -e ".[dev,postgres,embeddings]"
	@touch $(EMB_STAMP)

test-embeddings: $(EMB_STAMP)
	HF_HUB_OFFLINE=1 $(EMB_VENV)/bin/pytest -p no:cacheprovider tests/unit/retrieval tests/unit/nodes/test_pack_context_recall.py

# The lowest LangGraph and LangChain releases pyproject.toml admits, in a venv of
# their own: the graph, drop-in, middleware and Studio tests run against them, so
# a lower bound that no longer works is caught. Keep these pins equal to the
# bounds in pyproject.toml.
COMPAT_VENV  := .venv-compat
COMPAT_STAMP := $(COMPAT_VENV)/.installed
COMPAT_PINS  := "langgraph==1.2.12" "langgraph-checkpoint==4.3.0" "langchain==1.4.0" "langchain-core==1.7.0"
$(COMPAT_STAMP): pyproject.toml Makefile
	@test -x $(COMPAT_VENV)/bin/python || $(PYTHON) -m venv $(COMPAT_VENV)
	$(COMPAT_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(COMPAT_VENV)/bin/python -m pip install --quiet -e ".[dev,postgres]" $(COMPAT_PINS)
	@touch $(COMPAT_STAMP)

test-compat: $(COMPAT_STAMP)
	$(COMPAT_VENV)/bin/python -m pip list 2>/dev/null | grep -E "^(langgraph|langgraph-checkpoint|langchain|langchain-core) "
	PATH="$(CURDIR)/$(COMPAT_VENV)/bin:$$PATH" $(COMPAT_VENV)/bin/pytest -p no:cacheprovider tests/unit/graph tests/integration/servers/test_studio.py

BENCH_STAMP := $(VENV)/.installed-bench
$(BENCH_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet -e ".[dev,postgres,bench]"
	@touch $(BENCH_STAMP)

# The [bench] extra (langmem) in .venv: with it, make test also runs the LangMem
# comparison (tests/integration/scale/test_bench_smoke.py::test_langmem_anchor).
install-bench: $(BENCH_STAMP)

bench: $(BENCH_STAMP)
	$(BIN)/python benchmarks/bench_tokens.py
	$(BIN)/python benchmarks/bench_growth.py

# LoCoMo dev split with its baselines in the same run (benchmarks/README.md); long.
bench-locomo: $(STAMP)
	$(BIN)/python benchmarks/locomo.py --json benchmarks/locomo-dev.json

notebooks: $(STAMP)
	$(BIN)/pytest tests/docs/test_notebooks.py

demo: $(STAMP)
	$(BIN)/memorygraph demo --db memorygraph-demo.db

# The LangGraph API server for Studio (README: "LangGraph Studio and the API server").
# It answers only callers with a key from MEMORYGRAPH_API_KEYS, and has no default key.
STUDIO_PORT ?= 2024
studio: $(STAMP)
	@test -n "$$MEMORYGRAPH_API_KEYS" || { echo 'Set MEMORYGRAPH_API_KEYS first, e.g.'; \
	  echo "  export MEMORYGRAPH_API_KEYS='{\"<a long random key>\": {\"tenant_id\": \"acme\", \"user_id\": \"ana\", \"scopes\": []}}'"; \
	  echo '(README: "Serving memorygraph: API keys, and what they protect").'; exit 2; }
	$(BIN)/langgraph dev --no-browser --port $(STUDIO_PORT)

clean:
	rm -rf $(VENV) $(EMB_VENV) $(COMPAT_VENV) .pytest_cache .mypy_cache .ruff_cache memorygraph-demo.db*
