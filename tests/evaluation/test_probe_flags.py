"""linear_probe.py flags -> probe_preset options -> the same command line."""

import pytest

from keras_cpc.evaluation import probe_command, probe_options


def test_options_from_flags_and_back_to_a_command():
    flags = {"seed": 3, "limit": None, "c_values": "0.1,1", "no_loso": True, "quiet": True,
             "patience": "none", "output": "not a probe option"}  # fmt: skip
    options = probe_options(flags)
    assert options == {"limit": None, "seed": 3, "leave_one_speaker_out": False,
                       "c_values": [0.1, 1.0], "progress": False, "patience": None}  # fmt: skip
    options.pop("progress")
    command = probe_command("presets/x", None, **options)
    assert command == (
        "python examples/linear_probe.py presets/x --seed 3 --no-loso --c-values 0.1,1 "
        "--patience none"
    )
    with pytest.raises(TypeError, match="received \\['progress'\\]"):
        probe_command("presets/x", None, progress=False)
