"""core/formats/eval_json.py: only well-typed rows are read, and every reported metric survives a round trip."""
import json

from core.formats import eval_json


def test_keeps_only_well_typed_rows(tmp_path):
    path = tmp_path / "eval.json"
    path.write_text(json.dumps({"generators": {"generator": {"fid": 3.5, "kid": "x", "recall": None},
                                               "junk": "not a row"},
                                "reference": {"floor": {"fid": 1.0}}, "step": "12", "features": ["x"] * 3}))
    report, problem = eval_json.read(path, tmp_path)
    assert problem is None and report["generators"] == {"generator": {"fid": 3.5}}
    assert report["reference"] == {"floor": {"fid": 1.0}} and "step" not in report
    path.write_text(json.dumps({"generators": []}))
    assert eval_json.read(path, tmp_path)[0] is None


def test_near_copy_share_and_in_classes_reach_the_reader(tmp_path):
    """The dashboard's quality table asks for these two; the reader used to drop them."""
    row = {"fid": 20.0, "recall": 0.3, "near_copy_share": 0.0001, "in_classes": 0.92, "class_histogram": [1, 2]}
    eval_json.write(tmp_path, {"generators": {"generator": row}, "step": 5})
    report, problem = eval_json.read(tmp_path / eval_json.EVAL, tmp_path)
    assert problem is None
    assert report["generators"]["generator"] == {"fid": 20.0, "recall": 0.3, "near_copy_share": 0.0001,
                                                 "in_classes": 0.92}
    assert json.loads((tmp_path / eval_json.EVAL).read_text())["format_version"] == eval_json.VERSION


def test_integers_no_table_can_hold_are_dropped(tmp_path):
    """CI's fuzz test once wrote fid: 10**30; Arrow's int64 could not hold it and the Training view crashed."""
    path = tmp_path / "eval.json"
    path.write_text(json.dumps({"generators": {"generator": {"fid": 10**30, "kid": -(2**60), "recall": 2**53,
                                                             "precision": 10**400}},
                                "step": 10**20, "samples": 10000}))
    report, problem = eval_json.read(path, tmp_path)
    assert problem is None and report["generators"] == {"generator": {"recall": 2**53}}
    assert "step" not in report and report["samples"] == 10000
