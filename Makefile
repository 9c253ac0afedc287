# The README's two commands: `make run` and `make test`. Everything they need is installed here.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
PYTEST_ARGS ?=
# Two test processes: much of the suite waits on processes, sockets and timers rather than the CPU
PYTEST_WORKERS ?= 2

.PHONY: install run test lint bench clean

$(VENV)/.installed: setup.cfg pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

install: $(VENV)/.installed

run: install
	@export WHARF_VAR_DIR="$(CURDIR)/var"; \
	if [ -z "$$REDIS_URL" ]; then \
		export WHARF_EMBEDDED_REDIS=true REDIS_URL="redis://127.0.0.1:$${WHARF_REDIS_PORT:-6380}/0"; \
	else export WHARF_EMBEDDED_REDIS=false; fi; \
	export API_PORT="$${API_PORT:-8080}"; \
	mkdir -p "$$WHARF_VAR_DIR"; \
	rm -rf "$$WHARF_VAR_DIR/metrics"; \
	$(BIN)/wharf db upgrade && $(BIN)/wharf seed-demo && \
	exec $(BIN)/supervisord -c supervisord.conf -n

test: install
	@exports="$$($(BIN)/wharf services ensure)" && eval "$$exports" && $(BIN)/python -m pytest -n $(PYTEST_WORKERS) --dist loadgroup $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check .

bench: install
	@for script in $$(grep -l '__main__' bench/*.py); do echo "== $$script"; $(BIN)/python "$$script" || exit 1; done

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache build *.egg-info
