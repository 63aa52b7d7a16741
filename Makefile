# Two commands set everything up on a fresh machine:
#   make lab    create .venv if missing, install, open JupyterLab on notebooks/00_start_here.ipynb,
#               serving the repository root (so README.md, docs/ and data/ open from the notebooks),
#               with JupyterLab's news prompt off and --allow-root added when run as root
#   make test   create .venv if missing, install, lint, unit tests and every notebook (nbval) side
#               by side, then every notebook in a real browser (make browser-test; skipped
#               without Chromium)
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.metagan_lab-installed
QUICK_ENV := METAGAN_LAB_QUICK=1 MPLBACKEND=Agg OMP_NUM_THREADS=1

.PHONY: lab test unit notebooks lint browser-test clean-cache exercises

# A dropped connection mid-download (it happens on package mirrors) should not fail a fresh set-up:
# pip resumes a cut download up to 20 times, and the whole install is tried up to 3 times.
PIP_INSTALL := $(PY) -m pip install -q --retries 10 --timeout 60

$(STAMP): pyproject.toml
	@test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip || echo "could not upgrade pip: installing with $$($(PY) -m pip --version)"
	@resume=$$($(PY) -m pip install --help | grep -q resume-retries && echo --resume-retries 20); \
	for attempt in 1 2 3; do \
		$(PIP_INSTALL) $$resume -e ".[dev]" && exit 0; \
		echo "pip install failed (attempt $$attempt of 3); retrying in 10 s"; sleep 10; \
	done; exit 1
	@touch $(STAMP)

# fetchNews "false": no "Would you like to get notified about official Jupyter news?" prompt. It is
# a default (overrides.d in this venv's JupyterLab application directory), so a learner's own
# setting still wins.
lab: $(STAMP)
	@mkdir -p $(VENV)/share/jupyter/lab/settings/overrides.d
	@echo '{"@jupyterlab/apputils-extension:notification": {"fetchNews": "false", "checkForUpdates": false}}' \
		> $(VENV)/share/jupyter/lab/settings/overrides.d/metagan-lab.json
	$(VENV)/bin/jupyter lab --ServerApp.root_dir=. $(if $(filter 0,$(shell id -u)),--allow-root) \
		notebooks/00_start_here.ipynb

# The unit tests and the notebooks (nbval) run side by side, each on one thread (2 cores: 270 s
# instead of 470 s); their outputs are kept apart (--output-sync). The browser suite runs alone
# after them: its widget checks wait on a responsive kernel.
SYNC := $(if $(filter 3.%,$(MAKE_VERSION)),,--output-sync=target)

test: $(STAMP) lint
	$(MAKE) -j2 $(SYNC) unit notebooks
	$(MAKE) browser-test

lint: $(STAMP)
	$(VENV)/bin/ruff check .

unit: $(STAMP)
	$(QUICK_ENV) $(VENV)/bin/pytest -q -p no:cacheprovider --ignore=tests/browser tests

# Exercises run in their instructor versions (course/source: solutions and hidden asserts); the
# student versions in notebooks/exercises are generated from them (tests/exercises checks that).
notebooks: $(STAMP)
	$(QUICK_ENV) $(VENV)/bin/pytest -q --nbval-lax -p no:cacheprovider notebooks course/source \
		--ignore=notebooks/exercises

# Student versions of the exercises: nbgrader strips the solutions of course/source/exNN/ into
# course/release/exNN/, which replace notebooks/exercises/ (commit them).
exercises: $(STAMP)
	cd course && PATH="$(abspath $(VENV))/bin:$$PATH" nbgrader generate_assignment "*" --force \
		--log-level=ERROR
	cp course/release/ex*/*.ipynb notebooks/exercises/

# Every notebook in JupyterLab inside Debian's Chromium (apt-get install chromium); skips without it.
browser-test: $(STAMP)
	OMP_NUM_THREADS=1 $(VENV)/bin/pytest -q -p no:cacheprovider tests/browser

clean-cache:
	rm -rf data/cache
