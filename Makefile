# audioprune: the two commands of the quick start are `make book` and `make test`.
PYTHON ?= python3
JUPYTER_BOOK ?= $(PYTHON) -c "from jupyter_book.cli.main import main; main()"
# Data sets, features and trained models made by the book are cached here.
export AUDIOPRUNE_HOME ?= $(CURDIR)/.cache/audioprune

INSTALLED := .make/installed
VENDOR := _vendor
HTML_MANAGER := @jupyter-widgets/html-manager@1.0.6
REQUIREJS := requirejs@2.3.7
MATHJAX := mathjax@3.2.2

.PHONY: install vendor book test unit browser student-check bench student clean

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

# Opens every built page in headless Chromium (Debian's chromium; .ci/run installs it).
browser: install
	$(PYTHON) -m pytest -m browser tests/test_browser.py

# The student edition of every chapter, executed (after the book, whose cache it reuses).
student-check: install
	$(PYTHON) -m pytest -m student tests/test_student_edition.py

test: unit book browser student-check

# The notebooks without their solutions, for lab courses: _build/student/
student: install
	$(PYTHON) scripts/student_edition.py --out _build/student

bench: install
	for script in benchmarks/*.py; do echo "== $$script"; $(PYTHON) $$script || exit 1; done

clean:
	rm -rf _build .make $(VENDOR) .cache
