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


def test_the_card_names_spectral_norm_and_the_class_loss_where_the_run_used_them(tmp_path):
    run = synthetic.run_folder(tmp_path, conditional=True)
    config = json.loads((run / "config.json").read_text())
    assert "class loss" not in model_card.card(run)
    config["train"].update(spectral_norm="on", class_loss=1.0)
    (run / "config.json").write_text(json.dumps(config))
    text = model_card.card(run)
    assert "| spectral norm on D | on |" in text and "| class loss (AC-GAN) weight | 1.0 |" in text


def test_an_unconditional_card_is_as_before(tmp_path):
    text = model_card.card(synthetic.run_folder(tmp_path))
    assert "pipeline_tag: unconditional-image-generation" in text and "class-conditional" not in text
    assert 'session.run(None, {"z": z})' in text and "Per class" not in text
