# biostar.hardening developer entry points. `make test` is what CI runs (.ci/run).
SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV ?= $(CURDIR)/.venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell sha256sum requirements-dev.txt | cut -c1-12)
export CONTAINERS_CONF ?= $(CURDIR)/tests/containers/containers.conf
export PATH := $(BIN):$(PATH)
export ANSIBLE_FORCE_COLOR := 0
KEEP ?= 0

.PHONY: help venv system-deps images lint sanity units molecule report-test reliability test demo bench docs build changelog clean packaging galaxy compat ee ee-test

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

$(STAMP): requirements-dev.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -r requirements-dev.txt
	rm -f $(VENV)/.installed-* && touch $@

venv: $(STAMP) ## create .venv with the pinned dev dependencies

system-deps: ## install podman, runc and debootstrap (apt)
	bash scripts/install-system-deps.sh

images: system-deps ## build the local container images (cached)
	bash tests/containers/build-images.sh

lint: venv ## ruff, ansible-lint, README drift, changelog fragments
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python scripts/readme_sections.py --check
	$(BIN)/ansible-lint --profile production
	$(BIN)/antsibull-changelog lint

sanity: venv ## ansible-test sanity on a copy of the collection
	bash scripts/sanity.sh

units: venv ## pytest unit tests
	$(BIN)/pytest tests/unit tests/site_kit/tests

molecule: venv images ## every Linux molecule scenario, with real containers
	bash extensions/molecule/run-scenarios.sh

report-test: venv images ## the fleet report of a real demo run, checked in headless Chromium (apt-installs chromium)
	bash scripts/install-system-deps.sh chromium
	BIOSTAR_DEMO_RESULTS=$(CURDIR)/tests/output/demo KEEP=0 bash scripts/demo.sh
	BIOSTAR_DEMO_RESULTS=$(CURDIR)/tests/output/demo $(BIN)/pytest tests/report

reliability: venv images ## bad input, concurrent runs and drift on real containers (tests/output/reliability.md)
	$(BIN)/python tests/reliability/run.py

packaging: venv ## build the tarball, install it offline, use it from the installed copy
	$(BIN)/pytest tests/packaging

galaxy: ## galaxy-importer on the built tarball: exit 0, no ERROR, no WARNING (own venv)
	bash tests/galaxy/run.sh

compat: venv images ## lookup/role units + converge-rerun-switch on ansible-core 2.16 and 2.21 (own venvs)
	bash tests/compat/run.sh

ee: system-deps ## build the execution environment image with ansible-builder (cached)
	bash tests/ee/build-ee.sh

ee-test: ee images ## site.yml and verify.yml inside the EE with ansible-navigator, against 2 SSH targets
	bash tests/ee/navigator-test.sh

test: lint sanity units molecule reliability report-test packaging galaxy compat ee-test ## everything CI runs
	@echo "make test: all checks passed"

demo: venv images ## a small BioStar site in containers: server mode, then direct mode
	KEEP=$(KEEP) bash scripts/demo.sh

bench: venv images ## fleet converge timings, 4 backends, podman and SSH (issue 11's targets, about 45 min; BENCH_PLAN=full: hours)
	bash benchmarks/run.sh

docs: venv ## regenerate the README sections built from data
	$(BIN)/python scripts/readme_sections.py

build: venv ## build the collection tarball into build/
	mkdir -p build
	$(BIN)/ansible-galaxy collection build --force --output-path build .

changelog: venv ## release notes for galaxy.yml's version from the fragments (rerun after more land)
	bash scripts/release-changelog.sh

clean: ## remove build output (keeps .venv and images)
	rm -rf build tests/output .pytest_cache .ruff_cache
