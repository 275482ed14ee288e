"""core/formats/config_json.py: written once, read as typed facts, with the data source for evaluation."""
import json

from core.formats import config_json


def test_write_then_read_facts(tmp_path):
    train = {"epochs": 40, "max_steps": 10000, "minutes": 0.0, "recipe": "modern", "loss": "hinge",
             "dataset": "folder", "data_dir": "/data/frogs", "classes": "frog, toad"}
    config_json.write(tmp_path, train, {"preset": "frog", "dataset": "folder", "class_names": ["frog", "toad"]},
                      250, 5000, "/data/frogs", "2.13.0")
    config, problem = config_json.read(tmp_path / config_json.CONFIG)
    assert problem is None and config["format_version"] == config_json.VERSION
    facts = config_json.facts(config)
    assert (facts.preset, facts.recipe, facts.steps_per_epoch, facts.max_steps) == ("frog", "modern", 250, 10000)
    source = config_json.data_source(config["train"])
    assert source == config_json.DataSource("folder", "/data/frogs", ("frog", "toad"))


def test_version_1_files_read_the_same(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps({"train": {"epochs": 50}, "model": {"preset": "dcgan"},
                                                      "steps_per_epoch": 1875}))
    config, _ = config_json.read(tmp_path / "config.json")
    assert config_json.facts(config).steps_per_epoch == 1875
