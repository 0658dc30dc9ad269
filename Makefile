# GhostPen: `make run` and `make test` are all a newcomer needs.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell cksum pyproject.toml | cut -d' ' -f1)
PACKAGES := gateway workers shared ghostpen

.PHONY: install run test lint lock fmt bench chaos fuzz clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || \
		{ echo "GhostPen needs Python 3.11 or newer ($(PYTHON) is older)"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev,embedded]'
	rm -f $(VENV)/.installed-*
	touch $(STAMP)

install: $(STAMP)

run: install
	$(VENV)/bin/ghostpen dev

test: install
	$(PY) -m pytest --cov --cov-report=term $(PYTEST_ARGS)

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	$(VENV)/bin/bandit -q -ll -c pyproject.toml -r $(PACKAGES)
	$(VENV)/bin/hadolint deploy/Dockerfile
	$(PY) scripts/audit_dependencies.py $(AUDIT_ARGS)

# Pinned, hash-checked dependencies (docs/security.md, "Supply chain"): requirements.lock is what
# the image installs (with the build backend), requirements-dev.lock adds the dev and embedded
# extras at the same versions. Pins are kept unless pyproject.toml needs otherwise;
# `make lock LOCK_ARGS=--upgrade` moves everything to the newest allowed versions.
PIP_COMPILE = CUSTOM_COMPILE_COMMAND="make lock" $(VENV)/bin/pip-compile --quiet \
	--generate-hashes --allow-unsafe --strip-extras --no-emit-index-url --no-emit-find-links \
	$(LOCK_ARGS)

lock: install
	@$(PY) -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' || \
		{ echo "make lock resolves for its interpreter: use Python 3.11, the image's"; exit 1; }
	$(PIP_COMPILE) --build-deps-for wheel -o requirements.lock pyproject.toml
	$(PIP_COMPILE) --extra dev --extra embedded -c requirements.lock -o requirements-dev.lock \
		pyproject.toml

fmt: install
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

bench: install
	$(PY) -m bench.run

# Schemathesis against the live OpenAPI document at full size (at least 5,000 requests, a new
# seed each run; FUZZ_SEED=N repeats one); writes its figures into docs/security.md.
fuzz: install
	FUZZ_EXAMPLES=$${FUZZ_EXAMPLES:-60} FUZZ_SEED=$${FUZZ_SEED:-random} FUZZ_MIN_REQUESTS=5000 FUZZ_REPORT=docs/security.md \
		$(PY) -m pytest tests/security/test_fuzz.py -p no:cacheprovider -s $(PYTEST_ARGS)

# The chaos suite at full size (10,000 jobs, ~10 min); writes its figures into docs/reliability.md.
chaos: install
	CHAOS_JOBS=$${CHAOS_JOBS:-10000} CHAOS_REPORT=docs/reliability.md \
		$(PY) -m pytest tests/chaos/test_chaos.py -p no:cacheprovider -s $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) .ghostpen .pytest_cache .mypy_cache .ruff_cache .coverage
