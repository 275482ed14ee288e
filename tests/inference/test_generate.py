"""python -m inference.generate: PNGs per seed and a grid, interpolations (seeds or projected images), sweeps."""
import numpy as np
import pytest
from PIL import Image

from core.files import file_part
from core.images import png_bytes
from inference import runtime
from inference.generate import main as generate_main
from tests import synthetic


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    return synthetic.run_folder(tmp_path_factory.mktemp("runs"))


def test_seeds_write_one_png_each_and_a_grid_reproducibly(exported, tmp_path):
    assert generate_main([str(exported), "--seeds", "0-3,9", "--out", str(tmp_path / "a")]) == 0
    names = sorted(p.name for p in (tmp_path / "a").iterdir())
    assert names == ["grid.png", "seed0000.png", "seed0001.png", "seed0002.png", "seed0003.png", "seed0009.png"]
    assert generate_main([str(exported / "generator.onnx"), "--seeds", "9", "--out", str(tmp_path / "b")]) == 0
    assert (tmp_path / "a" / "seed0009.png").read_bytes() == (tmp_path / "b" / "seed0009.png").read_bytes()
    with Image.open(tmp_path / "a" / "seed0000.png") as img:
        assert img.size == (28, 28)


def test_interpolation_between_a_seed_and_a_projected_image(exported, tmp_path, capsys):
    picture = np.zeros((28, 28, 1), np.uint8)
    picture[8:20, 8:20] = 255
    (tmp_path / "square.png").write_bytes(png_bytes(picture))
    assert generate_main([str(exported), "--interpolate", f"5,{tmp_path / 'square.png'}", "--frames", "6",
                          "--project-seconds", "0.5", "--out", str(tmp_path / "o")]) == 0
    assert "projected square.png" in capsys.readouterr().out
    with Image.open(tmp_path / "o" / "interpolate_seed5_square.gif") as gif:
        assert gif.n_frames == 6


def test_mp4_and_a_direction_sweep(exported, tmp_path):
    assert generate_main([str(exported), "--interpolate", "1,2", "--frames", "8", "--format", "mp4",
                          "--out", str(tmp_path)]) == 0
    assert (tmp_path / "interpolate_seed1_seed2.mp4").read_bytes()[4:8] == b"ftyp"
    assert generate_main([str(exported), "--direction", "sefa 1", "--seeds", "0-2", "--strengths=-2:2:5",
                          "--out", str(tmp_path)]) == 0
    with Image.open(tmp_path / "direction_sefa-1.png") as sweep:
        assert sweep.size[0] > sweep.size[1]  # 5 strengths across, 3 seeds down


@pytest.mark.parametrize("args, message", [
    (["--seeds", "5-1"], "runs backwards"), (["--seeds", "x"], "expected seeds like"),
    (["--seeds", "0-5000"], "at most 1024 seeds"), (["--strengths", "1:2:99", "--direction", "sefa 1"], "2-64 steps"),
    (["--seeds", "1"], "--out DIR is needed"), ([], "nothing to do"),
    (["--direction", "towards Nowhere", "--out", "{tmp}"], "no direction named"),
    (["--interpolate", "1", "--out", "{tmp}"], "two endpoints"),
    (["--interpolate", "1,missing.png", "--out", "{tmp}"], "neither a seed nor an image file"),
    (["--truncation", "0", "--seeds", "1", "--out", "{tmp}"], "must be in (0, 4.0]"),
])
def test_bad_input_is_one_line(exported, tmp_path, capsys, args, message):
    args = [a.replace("{tmp}", str(tmp_path)) for a in args]
    try:
        code = generate_main([str(exported), *args])
    except SystemExit as exc:
        code = exc.code
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and message in err[0], err


def test_help_has_examples(capsys):
    with pytest.raises(SystemExit) as done:
        generate_main(["--help"])
    out = capsys.readouterr().out
    assert done.value.code == 0 and "examples:" in out and "--interpolate" in out


def test_a_run_with_only_its_ema_exported_just_works(tmp_path, capsys):
    run = synthetic.run_folder(tmp_path)
    (run / "generator.onnx").unlink()
    assert generate_main([str(run), "--seeds", "0", "--out", str(tmp_path / "o")]) == 0
    assert "using generator_ema.onnx, the EMA of G" in capsys.readouterr().out


def test_a_trained_run_not_yet_exported_says_to_export_it(tmp_path, capsys):
    run = synthetic.run_folder(tmp_path, ema=False)
    (run / "generator.onnx").unlink()
    (run / "last.pt").write_bytes(b"a checkpoint")
    assert generate_main([str(run), "--seeds", "0", "--out", str(tmp_path / "o")]) == 2
    assert f"is trained but not exported yet: run python -m export.to_onnx {run}" in capsys.readouterr().err


def test_an_unreadable_image_endpoint_names_the_file_and_the_formats(exported, tmp_path, capsys):
    (tmp_path / "notes.png").write_text("not a picture")
    assert generate_main([str(exported), "--interpolate", f"1,{tmp_path / 'notes.png'}", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert f"{tmp_path / 'notes.png'} is not an image file of a format that is read here (PNG, JPEG" in err
    assert "BytesIO" not in err


@pytest.fixture(scope="module")
def conditional(tmp_path_factory):
    return synthetic.run_folder(tmp_path_factory.mktemp("runs"), conditional=True)


def test_class_picks_what_a_conditional_model_draws(conditional, tmp_path):
    for name in ("Sneaker", "bag"):
        assert generate_main([str(conditional), "--class", name, "--seeds", "0-1", "--out", str(tmp_path / name)]) == 0
    sneaker, bag = ((tmp_path / n / "seed0001.png").read_bytes() for n in ("Sneaker", "bag"))
    assert sneaker != bag
    gen = runtime.OnnxGenerator(conditional / "generator.onnx")
    assert sneaker == png_bytes(gen.images(gen.latents(1, 1), 7)[0])
    # without --class, seed i of the grid draws class i in turn
    assert generate_main([str(conditional), "--seeds", "0-1", "--out", str(tmp_path / "mixed")]) == 0
    assert (tmp_path / "mixed" / "seed0001.png").read_bytes() == png_bytes(gen.images(gen.latents(1, 1), 1)[0])


def test_class_all_draws_every_class_for_every_seed_one_row_per_class(conditional, tmp_path):
    assert generate_main([str(conditional), "--class", "all", "--seeds", "4,9", "--out", str(tmp_path)]) == 0
    gen = runtime.OnnxGenerator(conditional / "generator.onnx")
    assert len(list(tmp_path.glob("seed*.png"))) == 2 * 10
    for k, name in enumerate(gen.class_names):
        for seed in (4, 9):
            drawn = (tmp_path / f"seed{seed:04d}-{file_part(name)}.png").read_bytes()
            assert drawn == png_bytes(gen.images(gen.latents(seed, 1), k)[0]), (name, seed)
    with Image.open(tmp_path / "grid.png") as picture:
        width, height = picture.size
    assert height / width == pytest.approx(10 / 2, rel=0.1)  # ten rows of two seeds
    assert file_part("T-shirt/top") == "t-shirt-top"  # class names become file names


def test_an_interpolation_can_walk_from_one_class_to_another(conditional, tmp_path):
    assert generate_main([str(conditional), "--interpolate", "3,3", "--class", "Sandal,Sneaker", "--frames", "5",
                          "--out", str(tmp_path)]) == 0
    with Image.open(tmp_path / "interpolate_seed3_seed3.gif") as gif:
        first = np.array(gif.convert("L"))
        gif.seek(4)
        last = np.array(gif.convert("L"))
        frames = gif.n_frames
    assert frames == 5 and not np.array_equal(first, last)  # the same seed, another class at the end


@pytest.mark.parametrize("model, args, message", [
    ("conditional", ["--class", "Frog"], "no class 'Frog' in generator.onnx; it knows: T-shirt/top, Trouser"),
    ("conditional", ["--class", "Bag,Coat"], "two classes in --class are for --interpolate"),
    ("conditional", ["--class", "Bag,Coat,Dress", "--interpolate", "1,2"], "one class name, or two"),
    ("exported", ["--class", "Bag"], "generator.onnx is not class-conditional"),
    ("exported", ["--class", "all"], "generator.onnx is not class-conditional"),
    ("conditional", ["--class", "all", "--interpolate", "1,2"], "--class all is for --seeds"),
])
def test_a_wrong_class_is_one_line(request, tmp_path, capsys, model, args, message):
    code = generate_main([str(request.getfixturevalue(model)), *args, "--seeds", "0", "--out", str(tmp_path)])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and message in err[0], err
