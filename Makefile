# Two commands from a fresh clone: `make demo` (the main job: every lesson executed offline in the
# demo profile, where transfer learning works at small scale; executed notebooks and figures in outputs/,
# the three approaches side by side, then the demo's accuracy gates) and `make test`.
# The demo's backbone is pretrained offline on synthetic source images once (minutes), then cached. The work
# folder lets lesson 5 fine-tune the frozen model lesson 4 trained instead of training it again.
# Both create the local virtualenv .venv on first use; `make test` also builds .venv-colab, a stand-in
# for Colab's runtime (its package versions, from .ci/colab/constraints.txt).
PYTHON ?= python3
VENV := .venv
RUN := $(VENV)/bin/python
INSTALLED := $(VENV)/.installed
COLAB_VENV := .venv-colab
COLAB_INSTALLED := $(COLAB_VENV)/.installed

.PHONY: demo test colab-standin

$(INSTALLED): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(RUN) -m pip install --quiet --upgrade pip
	$(RUN) -m pip install --quiet -e ".[dev]"
	touch $(INSTALLED)

$(COLAB_INSTALLED): .ci/colab/constraints.txt
	rm -rf $(COLAB_VENV)
	$(PYTHON) -m venv $(COLAB_VENV)
	$(COLAB_VENV)/bin/python -m pip install --quiet -r .ci/colab/constraints.txt
	$(COLAB_VENV)/bin/python -m pip freeze > $(COLAB_VENV)/baseline.txt
	touch $(COLAB_INSTALLED)

colab-standin: $(COLAB_INSTALLED)

demo: $(INSTALLED)
	$(RUN) -m course_tools.pretrain
	COURSE_WORK_DIR=$(CURDIR)/outputs/work $(RUN) -m course_tools.notebooks --profile demo --out outputs
	$(RUN) -m course_tools.gates outputs --profile demo

test: $(INSTALLED) $(COLAB_INSTALLED)
	$(RUN) -m pytest
