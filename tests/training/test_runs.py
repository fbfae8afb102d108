"""The shared side of the pretraining scripts: flags, optimiser defaults, the run record."""

import pytest

from keras_cpc import training


def parse(argv, **defaults):
    parser = training.run_parser("Test.", **{"epochs": 2, "batch_size": 8, **defaults})
    parser.add_argument("--data")
    parser.add_argument("--probe", action="store_true")
    return training.parse_run_flags(parser, argv)


def test_optimizer_defaults_are_filled_in_so_the_record_holds_them():
    args = parse([], optimizer="adamw")
    assert args.learning_rate == pytest.approx(1e-3 * 8 / 256) and args.weight_decay == 1e-6
    args = parse(["--optimizer", "adam"], optimizer="adamw", learning_rate=2e-4)
    assert args.learning_rate == 2e-4 and args.weight_decay == 0
    with pytest.raises(SystemExit, match="--probe needs --save-preset"):
        parse(["--probe"], optimizer="sgd")


def test_run_record_has_portable_paths_and_no_verbosity(tmp_path, monkeypatch):
    monkeypatch.setenv(training.DATA_ROOT_ENV, str(tmp_path))
    argv = ["--data", str(tmp_path / "cifar10" / "train"), "--save-preset", "/elsewhere/p"]
    args = parse(argv, optimizer="sgd")
    summary = {"epochs": 2, "steps_per_epoch": 3, "steps": 6}
    record = training.run_record("examples/x.py", argv, args, summary)
    assert record["training_command"].startswith("python examples/x.py --data $DATA/cifar10")
    hyper = record["hyperparameters"]
    assert hyper["data"] == "$DATA/cifar10/train" and hyper["save_preset"] == "<local>/p"
    assert "verbose" not in hyper and record["seed"] == 0 and record["training"] == summary
    assert set(record["hardware"]) >= {"cpu", "backend"}
    line = training.optimizer_card_line(args, summary)
    assert line == (
        "- Optimiser: sgd, peak 0.001875, weight decay 0.0005, batch 8, 2 epochs x 3 steps = "
        "6 steps, warmup 1.0 epoch(s) then cosine"
    )


def test_simclr_objective_line_reads_flags_or_a_preset_record_alike():
    import argparse

    flags = {
        "temperature": 0.5, "jitter_strength": 0.5, "grayscale_probability": 0.1,
        "blur": False, "crop_scale": [0.2, 1.0], "crop_sampling": "official",
        "projection_layers": 2, "projection_dim": 128, "head_hidden": None,
        "head_batch_norm": False,
    }  # fmt: skip
    line = training.simclr_objective_line(flags, 512)
    assert line == (
        "- Objective: SimCLR NT-Xent, temperature 0.5, colour strength 0.5, grayscale p 0.1, "
        "blur off, crops official sampler, area 0.2-1, projection head 2 layers 512 -> 128 "
        "(no batch norm)"
    )
    assert training.simclr_objective_line(argparse.Namespace(**flags), 512) == line
    # Records of older runs lack the later flags: those parts are left out, nothing invented.
    old = {"temperature": 0.2, "jitter_strength": 1.0}
    assert training.simclr_objective_line(old, 512) == (
        "- Objective: SimCLR NT-Xent, temperature 0.2, colour strength 1.0"
    )
