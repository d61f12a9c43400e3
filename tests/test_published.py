"""The published figures: each has a source, and the tables agree with each other and the book."""

from __future__ import annotations

import re

import docutils.core
import docutils.utils
import pytest

from audioprune_lite import fewer_examples, published
from audioprune_lite.data import SCENE_CLASSES

FIGURES = [name for name in published.__all__
           if name.isupper() and name not in ("PUBLICATIONS", "SOURCES")]


def test_every_figure_has_a_source_in_a_known_publication():
    assert sorted(published.SOURCES) == sorted(FIGURES)
    for name in FIGURES:
        assert published.SOURCES[name].publication in published.PUBLICATIONS
        publication = published.PUBLICATIONS[published.SOURCES[name].publication]
        assert published.cite(name).startswith(publication)
    with pytest.raises(KeyError, match="PRUNING_TABLE"):
        published.cite("PRUNING")


def test_class_accuracy_covers_the_scenes_and_averages_to_the_official_accuracy():
    assert tuple(published.CLASS_ACCURACY.index) == SCENE_CLASSES
    assert published.CLASS_ACCURACY.mean() == pytest.approx(47.7, abs=0.05)


def test_fewer_examples_tables_use_the_studys_starts_and_shares():
    assert tuple(published.FEWER_EXAMPLES_ACCURACY.index) == fewer_examples.STARTS
    shares = [round(100 * fraction) for fraction in fewer_examples.FRACTIONS]
    assert list(published.FEWER_EXAMPLES_ACCURACY.columns) == shares
    assert list(published.FEWER_EXAMPLES_MINUTES.index) == shares


def test_the_papers_totals_and_headline_follow_from_their_tables():
    vggish = published.PRUNING_TIMES_S.loc["VGGish"].sum()
    assert vggish["exact (s)"] == pytest.approx(34.8, abs=0.05)  # "about 3 times faster":
    assert vggish["Nystrom (s)"] == pytest.approx(11.7, abs=0.05)  # 34.8 s against 11.7 s
    table = published.PRUNING_TABLE["params (Keras count)"]
    assert round(100 * (1 - table["C2"] / table["none"])) == published.HEADLINE["parameters cut %"]
    assert published.PRUNING_TABLE.loc["none", "cosine acc %"] == published.UNPRUNED.loc[
        "DCASE 2021 baseline", "accuracy %"]


def test_the_module_documentation_renders_every_table_without_a_docutils_warning():
    """The book's method page shows the tables through this docstring, and builds with -W."""
    text = re.sub(r":\w+:`([^`]*)`", r"``\1``", published.__doc__)  # Sphinx's roles as literals
    html = docutils.core.publish_string(
        text, writer_name="html",
        settings_overrides={"report_level": docutils.utils.Reporter.WARNING_LEVEL,
                            "halt_level": docutils.utils.Reporter.WARNING_LEVEL},
    ).decode()
    assert html.count("<table") == len(FIGURES)
    assert "36,356" in html and "0.00471" in html
