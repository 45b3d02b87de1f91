# Two commands from a fresh clone: `make demo` (the main job: every lesson executed offline in the
# demo profile, where transfer learning works at small scale; executed notebooks and figures in outputs/,
# the three approaches side by side, then the demo's accuracy gates) and `make test`.
# The demo's backbone is pretrained offline on synthetic source images once (a minute or two), then cached;
# what TensorFlow prints to stderr meanwhile goes to outputs/pretrain.log, shown if pretraining fails. The work
# folder lets lesson 5 fine-tune the frozen model lesson 4 trained instead of training it again. Two lessons
# run at once (lesson 5 waits for lesson 4: course_tools/notebooks.toml); the last line gives the wall time.
# Both create the local virtualenv .venv on first use; `make test` also builds .venv-colab, a stand-in
# for Colab's runtime (its package versions, from .ci/colab/constraints.txt). uv installs the packages
# (the same versions pip resolves, in a fraction of the time); pip stays in both virtualenvs. Both are
# installed with their bytecode compiled, as pip does: a sandboxed kernel may write none, and compiling
# TensorFlow in every kernel would cost each lesson's setup cell its time limit.
PYTHON ?= python3
VENV := .venv
RUN := $(VENV)/bin/python
INSTALLED := $(VENV)/.installed
COLAB_VENV := .venv-colab
COLAB_INSTALLED := $(COLAB_VENV)/.installed
NEXT_VENV := .venv-next

LAB_PORT ?= 8888
ALLOW_ROOT := $(if $(filter 0,$(shell id -u)),--allow-root)

.PHONY: demo test test-quick test-as-user colab-standin lab next-runtime docs

UV := $(VENV)/bin/uv

$(UV):
	$(PYTHON) -m venv $(VENV)
	$(RUN) -m pip install --quiet uv

$(INSTALLED): pyproject.toml | $(UV)
	$(UV) pip install --quiet --compile-bytecode --python $(RUN) -e ".[dev]"
	$(RUN) -m compileall -q course course_tools autograder
	touch $(INSTALLED)

$(COLAB_INSTALLED): .ci/colab/constraints.txt | $(UV)
	rm -rf $(COLAB_VENV)
	$(PYTHON) -m venv $(COLAB_VENV)
	$(UV) pip install --quiet --compile-bytecode --python $(COLAB_VENV)/bin/python -r .ci/colab/constraints.txt
	$(COLAB_VENV)/bin/python -m pip freeze > $(COLAB_VENV)/baseline.txt
	touch $(COLAB_INSTALLED)

colab-standin: $(COLAB_INSTALLED)

demo: $(INSTALLED)
	@started=$$(date +%s); mkdir -p outputs; \
	if $(RUN) -m course_tools.pretrain 2>outputs/pretrain.log; then \
		COURSE_WORK_DIR=$(CURDIR)/outputs/work $(RUN) -m course_tools.notebooks --profile demo --out outputs --jobs 2 && \
		$(RUN) -m course_tools.gates outputs --profile demo; \
	else cat outputs/pretrain.log >&2; false; fi; \
	status=$$?; echo "make demo: $$(( $$(date +%s) - started )) s wall time in all"; exit $$status

# Manual grading: JupyterLab on the course root (nbgrader reads nbgrader_config.py from there), with
# nbgrader's formgrader; open it from the Nbgrader menu. Listens on this machine only. The virtualenv's
# bin/ goes on PATH because the formgrader runs `alembic` when it creates the gradebook.
lab: $(INSTALLED)
	$(VENV)/bin/jupyter server extension enable --sys-prefix nbgrader.server_extensions.formgrader >/dev/null 2>&1
	PATH="$(abspath $(VENV))/bin:$$PATH" $(VENV)/bin/jupyter lab --ServerApp.root_dir="$(CURDIR)" \
		--ip=127.0.0.1 --port=$(LAB_PORT) $(ALLOW_ROOT)

# The site: Sphinx with MyST, the lessons rendered by myst-nb without executing them (docs/conf.py); warnings, a
# reference that does not resolve included, fail the build. tests/docs/test_site.py builds it the same way.
docs: $(INSTALLED)
	$(RUN) -m sphinx -W --keep-going -n -q -b html -d docs/_build/doctrees docs docs/_build/html
	@echo "the site: docs/_build/html/index.html"

test: $(INSTALLED) $(COLAB_INSTALLED)
	$(RUN) -m pytest -n 2 --dist loadfile --durations=15

# The quick tier, for every change: the tests marked slow, browser, sandbox, cluster or colab left out
# (tests/conftest.py fails an unmarked test that starts a kernel, a browser or a cluster).
test-quick: $(INSTALLED)
	$(RUN) -m pytest -n 2 --dist loadfile -m "not (slow or browser or sandbox or cluster or colab)" --durations=15

# The sandbox's attack tests again with the grader run by a user without privileges (TEST_USER), as on a
# shared grading server; `make test` runs them as whoever runs it (root in CI). Run it as root. The
# user's virtualenv is built on a Python the user can read (USER_PYTHON: Debian's) and this folder must
# be readable by the user. Control groups need root: the two attacks that need them are skipped.
USER_VENV := .venv-user
USER_PYTHON ?= /usr/bin/python3
TEST_USER ?= nobody

$(USER_VENV)/.installed: pyproject.toml | $(UV)
	rm -rf $(USER_VENV)
	$(UV) venv --quiet --python $(USER_PYTHON) $(USER_VENV)
	$(UV) pip install --quiet --compile-bytecode --python $(USER_VENV)/bin/python -e ".[dev]"
	touch $@

test-as-user: $(USER_VENV)/.installed
	@runuser -u $(TEST_USER) -- test -r pyproject.toml || { echo "$(TEST_USER) cannot read $(CURDIR)"; exit 1; }
	home=$$(mktemp -d) && chown $(TEST_USER) $$home && \
	runuser -u $(TEST_USER) -- env HOME=$$home PATH=$(abspath $(USER_VENV))/bin:/usr/bin:/bin \
		$(USER_VENV)/bin/python -m pytest -q -p no:cacheprovider -rs \
		tests/autograder/test_sandbox.py tests/autograder/test_verdicts.py

# The lessons on the next runtime: a fresh $(NEXT_VENV) with the newest TensorFlow, Keras, KerasCV and TensorFlow
# Datasets on PyPI (pre-releases included), every solution in the smoke profile, then the lesson tests; the report,
# logs and executed lessons go to outputs/next-runtime/ (course_tools/next_runtime.py). Weekly in CI as well.
next-runtime: | $(UV)
	$(PYTHON) -m course_tools.next_runtime --venv $(NEXT_VENV) --out outputs/next-runtime --uv $(UV)
