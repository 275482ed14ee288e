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


def test_a_model_exported_before_the_run_ended_gets_its_own_steps_time_and_grid(tmp_path):
    """The frog ships its best kept checkpoint (step 7,000 of 10,000): its card must not show the whole run."""
    run = synthetic.run_folder(tmp_path, steps=40, steps_per_epoch=20)  # exported at step 40, the end of epoch 2
    assert "![the fixed-seed grid at the end of training](samples/epoch_0002.png)" in model_card.card(run)
    later = [{"step": step, "epoch": step // 20, "g_loss": 1.0, "time": 3600.0 * step / 40} for step in (60, 80)]
    with (run / "metrics.jsonl").open("a") as f:
        f.write("".join(json.dumps(r) + "\n" for r in later))
    for epoch in (3, 4):
        (run / "samples" / f"epoch_{epoch:04d}.png").write_bytes((run / "samples" / "epoch_0001.png").read_bytes())
    text = model_card.card(run)
    assert "![the fixed-seed grid at step 40](samples/epoch_0002.png)" in text
    assert "| length | 40 steps (2.0 epochs) |" in text
    assert "| training time |" in text and "2 h" not in text  # the run went on for 2 h; the model is from 0.4 s in


def test_a_run_stopped_mid_epoch_shows_the_grid_drawn_where_it_stopped(tmp_path):
    """A time budget or Ctrl-C ends a run between epochs; the grid saved at that step is the model's, not the
    last whole epoch's."""
    run = synthetic.run_folder(tmp_path, steps=50, steps_per_epoch=20)  # epochs 1 and 2, then 10 steps of epoch 3
    (run / "samples" / "step_0000050.png").write_bytes((run / "samples" / "epoch_0001.png").read_bytes())
    assert "![the fixed-seed grid at the end of training](samples/step_0000050.png)" in model_card.card(run)
