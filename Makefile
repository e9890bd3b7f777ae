# prunebench: `make run` runs the default benchmark end to end, `make test` runs the tests.
# Both set up everything first: a virtual environment with the pinned packages, and
# Fashion-MNIST from Debian's dataset-fashion-mnist when apt is usable (else the
# workflow downloads it with torchvision).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
CORES ?= 2
REPORT := results/fashion_mnist/report/index.html

.PHONY: run test setup fashion-mnist chromium slurm lint clean

run: setup
	$(BIN)/snakemake --cores $(CORES)
	@echo "Report: $(abspath $(REPORT))"

# the slurm-marked tests start a local SLURM cluster (scripts/local_slurm.sh) when they can. Three
# pytest-xdist workers, whole modules each (module fixtures run once): the SLURM module, which mostly
# waits for the cluster, goes first on one of them while the other two keep both cores busy
TEST_WORKERS ?= 3
test: setup slurm
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadscope --no-loadscope-reorder

setup: $(VENV)/.installed fashion-mnist chromium

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

fashion-mnist:
	@if [ ! -d /usr/share/datasets/fashion-mnist ] && command -v apt-get >/dev/null; then \
		if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO="sudo -n"; fi; \
		{ $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq dataset-fashion-mnist; } \
			|| echo "Could not install dataset-fashion-mnist; the workflow will download Fashion-MNIST."; \
	fi

# Debian's chromium: the report's browser test (tests/test_report_browser.py) renders the HTML in it
chromium:
	@if ! command -v chromium >/dev/null && command -v apt-get >/dev/null; then \
		if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO="sudo -n"; fi; \
		export DEBIAN_FRONTEND=noninteractive; \
		$$SUDO apt-get install -y -qq chromium >/dev/null 2>&1 \
			|| { $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq chromium; } \
			|| echo "Could not install chromium; the browser test will fail (deselect it: pytest -m 'not browser')."; \
	fi

# SLURM, slurmdbd, munge and MariaDB from apt, when root and apt are there (else the slurm tests skip)
slurm:
	@if ! PATH="$$PATH:/usr/sbin" command -v slurmctld >/dev/null && [ "$$(id -u)" = 0 ] \
		&& command -v apt-get >/dev/null; then \
		scripts/local_slurm.sh install || echo "Could not install SLURM; the slurm tests will skip."; \
	fi

# ruff (pyproject.toml's [tool.ruff]) on the Python, snakefmt on the Snakefile and rules, Snakemake's own linter
lint: setup
	$(BIN)/ruff check .
	$(BIN)/snakefmt --check Snakefile rules
	$(BIN)/snakemake --lint

clean:
	rm -rf results .snakemake
