"""inference/model_card.py: the card of a class-conditional run says how to ask for a class and reports agreement."""
import json

from core.formats import eval_json
from inference import model_card
from tests import synthetic


def test_a_conditional_card_shows_the_class_input_and_the_per_class_table(tmp_path):
    run = synthetic.run_folder(tmp_path, conditional=True)
    report = json.loads((run / "eval.json").read_text())
    report["generators"]["generator"]["class_agreement"] = 0.93
    report["per_class"] = {"generator": {c: {"fid": 3.0, "class_agreement": 0.9} for c in synthetic.CLASS_NAMES}}
    eval_json.write(run, report)
    text = model_card.card(run)
    assert "- class-conditional" in text and "pipeline_tag: unconditional" not in text
    assert '"class": classes' in text and "--class NAME" in text
    assert "| Sneaker | 90.0% | 3 |" in text and "class agreement ↑" in text


def test_an_unconditional_card_is_as_before(tmp_path):
    text = model_card.card(synthetic.run_folder(tmp_path))
    assert "pipeline_tag: unconditional-image-generation" in text and "class-conditional" not in text
    assert 'session.run(None, {"z": z})' in text and "Per class" not in text
