"""train/config.py: the book values fill in what was not given; every field parses and bounds its flag."""
import argparse
import dataclasses

import pytest

from train.config import SCHEDULE_FIELDS, TrainConfig, add_arguments, flag, from_args


def parse(*argv):
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    return from_args(parser.parse_args(list(argv)))


def test_book_values_fill_what_was_not_given():
    cfg = TrainConfig(model="frog").resolved()
    assert (cfg.dataset, cfg.classes, cfg.batch_size, cfg.lr_d, cfg.lr_g) == ("cifar10", "frog", 20, 8e-4, 4e-4)
    assert (cfg.label_noise, cfg.clip_value, cfg.leaky_slope) == (0.05, 1.0, 0.2)
    dcgan = TrainConfig().resolved()
    assert (dcgan.dataset, dcgan.classes, dcgan.batch_size, dcgan.lr_d, dcgan.label_noise) == \
        ("fashion-mnist", "", 32, 1e-3, 0.0)


def test_given_values_win_and_lr_sets_both_unless_one_is_given():
    cfg = TrainConfig(model="frog", lr=1e-4, lr_g=5e-5, label_noise=0.0, batch_size=7).resolved()
    assert (cfg.lr_d, cfg.lr_g, cfg.label_noise, cfg.batch_size) == (1e-4, 5e-5, 0.0, 7)


def test_a_preset_on_another_dataset_keeps_no_preset_classes():
    assert TrainConfig(model="frog", dataset="folder").resolved().classes == ""
    assert TrainConfig(model="frog", dataset="folder", classes="frog,toad").resolved().class_tuple == ("frog", "toad")


def test_every_field_has_a_flag_with_help_and_what_was_typed_is_reported():
    cfg, given = parse("--epochs", "3", "--minibatch-std", "--model", "mlp")
    assert given == {"epochs": 3, "minibatch_std": True, "model": "mlp"}
    assert cfg == TrainConfig(epochs=3, minibatch_std=True, model="mlp")
    for f in dataclasses.fields(TrainConfig):
        assert f.metadata["help"] and f.metadata["parse"], f.name
    assert set(SCHEDULE_FIELDS) <= {f.name for f in dataclasses.fields(TrainConfig)}


@pytest.mark.parametrize("argv, message", [
    (["--epochs", "0"], "must be > 0, got 0"), (["--batch-size", "x"], "expected an integer, got 'x'"),
    (["--lr", "-1"], "must be > 0"), (["--ema", "1"], "must be in [0, 1)"), (["--replay", "-1"], "must be >= 0"),
    (["--eval-samples", "50"], "must be >= 100"), (["--precision", "fp8"], "invalid choice"),
])
def test_bad_values_name_the_rule(argv, message, capsys):
    with pytest.raises(SystemExit):
        parse(*argv)
    assert message in capsys.readouterr().err


def test_config_round_trips_through_a_dict_and_ignores_unknown_keys():
    cfg = TrainConfig(model="mlp", ema=0.9).resolved()
    assert TrainConfig.from_dict({**cfg.to_dict(), "from_the_future": 1}) == cfg
    assert flag("batch_size") == "--batch-size"
