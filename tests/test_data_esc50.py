"""ESC-50 tables that would falsify or inflate results are refused by name: a class index and
a category that disagree, and fragments of one source recording spread over several folds."""

from __future__ import annotations

import pytest

from audioprune_lite.data import MetadataError, load_esc50

HEADER = "filename,fold,target,category,esc10,src_file,take"
DOG = "1-100032-A-0.wav,1,0,dog,True,100032,A"
BIRDS = "1-100038-A-14.wav,1,14,chirping_birds,False,100038,A"


def esc50_root(tmp_path, *rows: str):
    root = tmp_path / "esc50"
    (root / "meta").mkdir(parents=True)
    (root / "meta" / "esc50.csv").write_text("\n".join([HEADER, *rows]) + "\n")
    return root


@pytest.mark.parametrize("row, says", [
    ("2-101-A-0.wav,2,0,rooster,False,101,A", "target 0 'rooster'"),  # one target, two categories
    ("2-101-A-14.wav,2,14,dog,False,101,A", "target 14 'dog'"),  # one category, two targets
])
def test_a_target_and_category_that_disagree_are_refused(tmp_path, row, says):
    with pytest.raises(MetadataError, match=f"esc50.csv gives 2-101-A-.*.wav {says} but "
                                            "1-100032-A-0.wav target 0 'dog'"):
        load_esc50(esc50_root(tmp_path, DOG, BIRDS, row))


def test_a_source_recording_in_two_folds_is_refused_by_name(tmp_path):
    leaked = "5-100032-B-0.wav,5,0,dog,True,100032,B"
    with pytest.raises(MetadataError, match="1 source recordings are in more than one fold, "
                                            "e.g. 100032 .*folds 1, 5.*inflates"):
        load_esc50(esc50_root(tmp_path, DOG, BIRDS, leaked))


def test_a_consistent_table_is_read(tmp_path):
    table = load_esc50(esc50_root(tmp_path, DOG, BIRDS, "1-100032-B-0.wav,1,0,dog,True,100032,B"))
    assert table["label"].tolist() == [0, 14, 0]
