# make demo: set up .venv (once) and dream the bundled sample photo into out/
# make test: set up .venv (once) and run the test suite
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.dreamfx-installed

.PHONY: demo test bench clean

EXAMPLE := plugins/examples/dreamfx-objective-example

$(STAMP): pyproject.toml $(EXAMPLE)/pyproject.toml $(shell find $(EXAMPLE)/src -name "*.py")
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[test,cluster,video,jax,explore]"
	# the example third-party plugin, installed for real (not editable) so the tests
	# exercise entry-point discovery exactly as a user's pip install would
	$(BIN)/python -m pip install --quiet --force-reinstall --no-deps ./$(EXAMPLE)
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/dreamfx demo -o out

# the suite's core (recipe, objectives, optimizers and loops), run again on Keras's JAX backend
CORE_TESTS := tests/test_dream.py tests/test_objectives.py tests/test_optimizers_and_loops.py tests/test_pull.py

# test processes side by side (pytest-xdist): one per core, at most 4 (each holds a TensorFlow);
# a test module stays in one process, so its module fixtures (a Dask cluster) start once
JOBS ?= $(shell n=$$(nproc 2>/dev/null || echo 1); [ $$n -gt 4 ] && n=4; echo $$n)
PYTEST := $(BIN)/python -m pytest -n $(JOBS) --dist loadscope

test: $(STAMP)
	@command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1 || echo "make test: no" \
	    "Chromium (chromium and chromedriver) found: the browser test of dreamfx explore will be skipped;" \
	    "on Debian: apt-get install chromium chromium-driver"
	$(PYTEST)
	KERAS_BACKEND=jax $(PYTEST) -m "not slow" $(CORE_TESTS)

bench: $(STAMP)
	$(BIN)/python benchmarks/run.py

clean:
	rm -rf out build dist *.egg-info
