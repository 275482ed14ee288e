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


def test_no_length_given_is_a_time_budgeted_quick_look_and_any_length_is_not():
    from train.config import QUICK_LOOK_EPOCHS, QUICK_LOOK_MINUTES

    quick = TrainConfig().resolved()
    assert (quick.epochs, quick.minutes) == (QUICK_LOOK_EPOCHS, QUICK_LOOK_MINUTES)
    assert (TrainConfig(epochs=2).resolved().epochs, TrainConfig(epochs=2).resolved().minutes) == (2, 0.0)
    assert TrainConfig(max_steps=10).resolved().minutes == 0.0
    assert TrainConfig().is_quick_look and TrainConfig(max_steps=0).is_quick_look  # what main() prints agrees
    assert not TrainConfig(epochs=2).is_quick_look and not TrainConfig(minutes=0).is_quick_look
    timed = TrainConfig(minutes=1.5).resolved()
    assert (timed.epochs, timed.minutes) == (50, 1.5)  # the book's length, cut by the budget given


def test_recipes_fill_their_parts_and_single_flags_override_them():
    book, modern = TrainConfig().resolved(), TrainConfig(recipe="modern").resolved()
    assert (book.loss, book.optimizer, book.spectral_norm, book.augment_ops, book.ada_target) == \
        ("bce", "rmsprop", "off", (), 0.0)
    assert (modern.loss, modern.optimizer, modern.spectral_norm, modern.ada_target) == ("hinge", "adam", "on", 0.6)
    assert TrainConfig(model="frog", recipe="modern").resolved().spectral_norm == "off", "its D went constant with it"
    assert TrainConfig(model="mlp", recipe="modern").resolved().spectral_norm == "off"
    assert modern.augment_ops == ("color", "translation", "cutout") and book.ema == modern.ema == 0.999
    frog = TrainConfig(model="frog", recipe="modern").resolved()
    assert (frog.lr_d, frog.lr_g, frog.label_noise, frog.clip_value) == (4e-4, 2e-4, 0.0, 0.0)
    assert (modern.lr_d, modern.lr_g) == (1e-3, 1e-3)  # the DCGAN's book rates
    mixed = TrainConfig(recipe="modern", loss="bce", augment="none", spectral_norm="on").resolved()
    assert (mixed.loss, mixed.augment_ops, mixed.spectral_norm) == ("bce", (), "on")
    conditional = TrainConfig(recipe="modern", conditional=True)
    assert conditional.resolved().spectral_norm == "on", "a conditional modern run's projection D is normalised"
    assert dataclasses.replace(conditional, spectral_norm="off").resolved().spectral_norm == "off"
    assert TrainConfig(conditional=True).resolved().spectral_norm == "off", "the book recipe stays the book's"
    assert TrainConfig(model="frog", recipe="modern", conditional=True).resolved().spectral_norm == "off", \
        "the frog's D went constant with it, conditional or not"
    assert conditional.resolved().class_loss == 1.0, "a conditional modern run's D also learns the classes"
    assert dataclasses.replace(conditional, class_loss=0.0).resolved().class_loss == 0.0
    assert TrainConfig(conditional=True).resolved().class_loss == modern.class_loss == 0.0


def test_a_config_saved_before_the_class_loss_existed_reads_without_it():
    """The first shipped conditional model was trained without it: resuming such a run must not add D's class head."""
    saved = dataclasses.asdict(TrainConfig(recipe="modern", conditional=True).resolved())
    del saved["class_loss"]
    assert TrainConfig.from_dict(saved).class_loss == 0.0


def test_bad_augmentation_policy_is_refused_in_one_line(capsys):
    with pytest.raises(SystemExit):
        parse("--augment", "color,rotate")
    assert "unknown augmentation 'rotate'" in capsys.readouterr().err


def test_a_config_saved_before_recipes_reads_as_the_book_recipe():
    old = {"model": "dcgan", "dataset": "fashion-mnist", "epochs": 5, "batch_size": 32, "lr_d": 1e-3, "lr_g": 1e-3,
           "precision": "fp32", "ema": 0.0, "label_noise": 0.0, "clip_value": 0.0, "leaky_slope": 0.2}
    cfg = TrainConfig.from_dict(old)
    assert (cfg.recipe, cfg.loss, cfg.optimizer, cfg.augment_ops, cfg.minutes, cfg.ema) == \
        ("book", "bce", "rmsprop", (), 0.0, 0.0)


@pytest.mark.parametrize("flags, speedup, expected", [
    (frozenset({"avx2", "avx512f", "amx_bf16"}), 2.0, "bf16"),       # AMX: measured twice as fast
    (frozenset({"avx2", "avx512f", "avx512_bf16"}), 0.77, "fp32"),  # AVX-512 BF16 without AMX: measured slower
    (frozenset({"avx2"}), None, "fp32"),                            # no native bf16: not even measured
])
def test_auto_precision_is_bf16_only_where_it_is_measured_faster(monkeypatch, flags, speedup, expected):
    import torch

    from core import machine
    from train import precision

    monkeypatch.setattr(precision, "cpu", lambda: machine.Cpu("test CPU", 2, flags))
    measured = []
    monkeypatch.setattr(precision, "bf16_speedup", lambda spec, batch: measured.append(batch) or speedup)
    cfg, why = TrainConfig().resolved().with_precision(torch.device("cpu"))
    assert cfg.precision == expected and why and measured == ([] if speedup is None else [32])
    assert TrainConfig(precision="fp32").with_precision(torch.device("cpu")) == (TrainConfig(precision="fp32"), None)
    assert TrainConfig().with_precision(torch.device("cuda"))[0].precision == "fp32"


def test_the_bf16_measurement_times_the_models_own_generator():
    from core.spec import ModelSpec
    from train.precision import bf16_speedup

    assert 0.01 < bf16_speedup(ModelSpec.of_preset("mlp"), batch=32) < 100
