"""benchmarks/simclr_epoch.py at a toy size: its analytic FLOP count, its summary; no timings."""

from pathlib import Path

import keras

from keras_cpc.models import ResNetBackbone
from tests.helpers import load_module

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"
EAGER = ["--run-eagerly"] if keras.backend.backend() != "jax" else []


def _load(name):
    return load_module(BENCHMARKS / f"{name}.py", name)


def cifar_resnet18_flops(side, channels):
    """2 H W k k Cin Cout summed by hand over the CIFAR-stem ResNet-18's convolutions."""
    total = 2 * side * side * 9 * 3 * channels  # stem
    c_in = channels
    for stage in range(4):
        c = channels * 2**stage
        s = side // 2**stage
        total += 2 * s * s * 9 * c_in * c + 3 * 2 * s * s * 9 * c * c  # 2 blocks, 4 3x3 convs
        total += 2 * s * s * c_in * c  # the 1x1 projection shortcut of the first block
        c_in = c
    return total


def test_flop_count_is_the_sum_over_the_convolutions():
    epoch = _load("simclr_epoch")
    backbone = ResNetBackbone(18, 0.25, stem="cifar", image_shape=(32, 32, 3))
    assert epoch.conv_flops(backbone) == cifar_resnet18_flops(32, 16) == 70_615_040
    # Width 1: 1.12 GFLOP per 32x32 image (issue 13's 1.11 GFLOP, 0.56 GMAC).
    assert cifar_resnet18_flops(32, 64) == 1_119_223_808
    peak, note = epoch.device_peak(["NVIDIA H200 (cuda:0)"], "mixed_bfloat16")
    assert peak == 989.0 and "H200 (cuda:0) dense bf16 peak 989" in note
    assert epoch.device_peak([], "float32") == (None, "CPU peak unknown")


def test_toy_run_prints_one_summary_line(capsys):
    epoch = _load("simclr_epoch")
    result = epoch.main([
        "--images", "32", "--width", "0.0625", "--batch-size", "16", "--timed-epochs", "1",
        "--image-size", "8", "--data-on-device", "--dtype-policy", "mixed_bfloat16", *EAGER,
    ])  # fmt: skip
    assert result["forward_flops_per_image"] == cifar_resnet18_flops(8, 4)
    assert result["seconds_per_epoch"] > 0 and result["fraction_of_peak"] is None
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[-2].startswith("FLOPs: conv = 2*H*W*k*k*Cin*Cout per image")
    summary = lines[-1]
    assert summary.startswith(f"simclr_epoch: backend={keras.backend.backend()} device=CPU")
    assert "dtype=mixed_bfloat16 data=device" in summary and "images/s" in summary
    assert "TFLOP/s model, fraction of peak unknown" in summary
