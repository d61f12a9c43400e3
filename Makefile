# audioprune: the two commands of the quick start are `make book` and `make test`.
# Everything is installed into the project's own virtual environment, .venv, made with the
# first python3 on PATH (a system Python refuses `pip install`); `make PYTHON=...` uses
# another interpreter's environment instead, as it is (e.g. Binder's or a conda env).
VENV := .venv
PYTHON ?= $(VENV)/bin/python
JUPYTER_BOOK ?= $(PYTHON) -c "from jupyter_book.cli.main import main; main()"
# Data sets, features and trained models made by the book are cached here.
export AUDIOPRUNE_HOME ?= $(CURDIR)/.cache/audioprune

VENDOR := _vendor
HTML_MANAGER := @jupyter-widgets/html-manager@1.0.6
REQUIREJS := requirejs@2.3.7
MATHJAX := mathjax@3.2.2
# The notebook edition is published on this branch (see publish-notebooks).
NOTEBOOKS_BRANCH := notebooks
PUBLISH := _build/publish

.PHONY: install vendor book test unit chromium browser student-check fresh bench notebooks \
	student instructor publish-notebooks clean

# The stamp that says requirements.txt is installed: inside the venv, so that a removed
# venv is made and filled again, and an existing complete one is reused as it is.
ifeq ($(PYTHON),$(VENV)/bin/python)
INSTALLED := $(VENV)/.installed
$(INSTALLED): | $(PYTHON)
$(PYTHON):
	python3 -m venv $(VENV) || { rm -rf $(VENV); echo "python3 -m venv failed: install the venv module (Debian/Ubuntu: sudo apt-get install python3-venv), then make again" >&2; exit 1; }
else
INSTALLED := .make/installed
endif

install: $(INSTALLED)

$(INSTALLED): requirements.txt pyproject.toml
	$(PYTHON) -m pip install -r requirements.txt
	@mkdir -p $(@D) && touch $@

# The widget JavaScript and MathJax, fetched from the npm registry and served by the book
# itself so that its pages also work offline.
vendor: $(VENDOR)/.complete

$(VENDOR)/.complete: Makefile
	rm -rf .make/npm $(VENDOR)
	mkdir -p .make/npm $(VENDOR)/@jupyter-widgets/html-manager $(VENDOR)/mathjax
	cd .make/npm && npm pack --silent $(HTML_MANAGER) $(REQUIREJS) $(MATHJAX) > /dev/null
	tar -xzf .make/npm/jupyter-widgets-html-manager-*.tgz -C $(VENDOR)/@jupyter-widgets/html-manager --strip-components=1 package/dist
	# the widget manager looks for its icon fonts one folder up from its module
	cp $(VENDOR)/@jupyter-widgets/html-manager/dist/*.woff* $(VENDOR)/@jupyter-widgets/html-manager/dist/*.ttf $(VENDOR)/@jupyter-widgets/
	tar -xzf .make/npm/requirejs-*.tgz -C $(VENDOR) --strip-components=1 package/require.js
	tar -xzf .make/npm/mathjax-*.tgz -C $(VENDOR)/mathjax --strip-components=2 package/es5/tex-mml-chtml.js package/es5/output/chtml/fonts/woff-v2
	touch $@

# Sphinx re-reads every page each time (an incremental build duplicates some scripts);
# notebooks are executed again only when they changed (jupyter-cache in _build/.jupyter_cache).
book: install vendor
	rm -rf _build/html _build/.doctrees
	$(JUPYTER_BOOK) build . -W --keep-going

unit: install
	$(PYTHON) -m pytest

# Debian's chromium for the browser check: installed when missing (as root or with
# passwordless sudo), else one line says what to install.
chromium:
	bash scripts/install_chromium.sh

# Opens every built page in headless Chromium.
browser: install chromium
	$(PYTHON) -m pytest -m browser tests/test_browser.py

# The student edition of every chapter, executed (after the book, whose cache it reuses),
# and one chapter autograded by nbgrader: full marks for the solutions, zero untouched.
student-check: install
	$(PYTHON) -m pytest -m student tests/test_student_edition.py tests/test_nbgrader.py

# `pip install .` in a fresh venv runs the command line, and chapter 1 of the notebook
# edition runs with only what its install cell installs (after the book).
fresh: install
	$(PYTHON) -m pytest -m fresh tests/test_fresh_install.py

test: chromium unit book browser student-check fresh

# The notebooks as Jupyter, Colab and Binder show them: MyST roles replaced by their values
# in the last `make book`, directives turned into plain Markdown: _build/notebooks/book/
notebooks: install
	$(PYTHON) scripts/editions.py notebook --out _build/notebooks/book

# The same without the solutions, for lab courses: _build/student/ (coding exercises as
# starters, with nbgrader's metadata), and nbgrader's source version of it for the
# lecturer (solutions and hidden grading asserts between nbgrader's markers): _build/instructor/
student: install
	$(PYTHON) scripts/editions.py student --out _build/student

instructor: install
	$(PYTHON) scripts/editions.py instructor --out _build/instructor

# The branch the launch buttons open: this commit with book/*.ipynb replaced by the notebook
# edition, committed on branch notebooks (reset to HEAD each time). Nothing is pushed:
# publish it with `git push --force origin notebooks`.
publish-notebooks: notebooks
	rm -rf $(PUBLISH) && git worktree prune
	git worktree add --quiet -B $(NOTEBOOKS_BRANCH) $(PUBLISH) HEAD
	cp _build/notebooks/book/*.ipynb $(PUBLISH)/book/
	git -C $(PUBLISH) add book
	git -C $(PUBLISH) commit --quiet -m "Notebook edition of $$(git rev-parse --short HEAD)"
	git worktree remove $(PUBLISH)
	@echo "branch $(NOTEBOOKS_BRANCH) updated; publish it with: git push --force origin $(NOTEBOOKS_BRANCH)"

bench: install
	for script in benchmarks/*.py; do echo "== $$script"; $(PYTHON) $$script || exit 1; done

clean:
	rm -rf _build .make $(VENDOR) .cache
