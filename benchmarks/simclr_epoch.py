"""Seconds per SimCLR epoch, images/s and achieved model TFLOP/s of `examples/pretrain_simclr.py`.

Trains the script's own model (`build_pretrainer`, `make_batches`, `fit_pretrainer`: the same
step, augmentation, online probe and schedule) on random uint8 images for a few epochs and
times each after the first (compilation). Model FLOPs are counted analytically from the
backbone's convolutions, ``2 * H_out * W_out * k * k * C_in * C_out`` per image and conv
(x3 for a training step: forward, and the backward's two products; x2 for the two views);
the head, augmentation and loss are left out, so the figure is the backbone's useful work.
The fraction of peak is given against the device's dense bfloat16 peak where the device is
known (H200 / H100 SXM 989, A100 312 TFLOP/s); a CPU's peak is not known here.

Sizes: on a CPU by default width 0.25, batch 256, 2048 images; with an accelerator the
preset's size, width 1, batch 512, 45,000 images (CIFAR-10 less its held-out 10%). Any flag
of `examples/pretrain_simclr.py` passes through (``--dtype-policy``, ``--data-on-device``,
``--optimizer``...). The last line is the summary. Examples::

    KERAS_BACKEND=jax python benchmarks/simclr_epoch.py --dtype-policy mixed_bfloat16 \\
        --data-on-device
    KERAS_BACKEND=tensorflow python benchmarks/simclr_epoch.py --timed-epochs 3
"""

import argparse
import importlib.util
import statistics
import time
from pathlib import Path

import keras
import numpy as np

from keras_cpc import training

PRETRAIN = Path(__file__).resolve().parents[1] / "examples" / "pretrain_simclr.py"
# Dense (no sparsity) bfloat16 tensor-core peaks, TFLOP/s, by a substring of the device name.
BF16_PEAKS = {"H200": 989.0, "H100": 989.0, "A100": 312.0}
CPU_SIZE = {"width": 0.25, "batch_size": 256, "images": 2048}
GPU_SIZE = {"width": 1.0, "batch_size": 512, "images": 45_000}


def load_pretrain_script():
    """`examples/pretrain_simclr.py` as a module (examples are scripts, not a package)."""
    spec = importlib.util.spec_from_file_location("pretrain_simclr", PRETRAIN)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def conv_flops(backbone):
    """Forward FLOPs per image of the backbone's convolutions: sum of 2 H W k k Cin Cout."""
    total = 0
    for layer in backbone.layers:
        if isinstance(layer, keras.layers.Conv2D):
            kernel_h, kernel_w, channels_in, channels_out = layer.kernel.shape
            _, height, width, _ = layer.output.shape
            total += 2 * height * width * kernel_h * kernel_w * channels_in * channels_out
    return int(total)


def device_peak(names, dtype_policy):
    """(peak TFLOP/s, what it is) for the first known accelerator, or (None, reason)."""
    for name in names:
        for model, peak in BF16_PEAKS.items():
            if model in name:
                note = "" if dtype_policy != "float32" else ", though this run is float32"
                return peak, f"{name} dense bf16 peak {peak:g} TFLOP/s{note}"
    if names:
        return None, f"peak of {names[0]} unknown"
    return None, "CPU peak unknown"


class EpochSeconds(keras.callbacks.Callback):
    """Wall seconds of each epoch (its end syncs: the epoch's metrics are read)."""

    def __init__(self):
        super().__init__()
        self.seconds, self.start = [], None

    def on_epoch_begin(self, epoch, logs=None):
        self.start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.seconds.append(time.perf_counter() - self.start)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--images", type=int, help="random training images (default by device)")
    parser.add_argument("--width", type=float, help="ResNet width (default by device)")
    parser.add_argument("--batch-size", type=int, help="images per step (default by device)")
    parser.add_argument("--timed-epochs", type=int, default=2, help="after one untimed epoch")
    return parser.parse_known_args(argv)


def main(argv=None):
    args, passed = parse_args(argv)
    accelerators = training.accelerators()
    size = GPU_SIZE if accelerators else CPU_SIZE
    images = args.images or size["images"]
    script_argv = [
        "--width", str(args.width or size["width"]),
        "--batch-size", str(args.batch_size or size["batch_size"]),
        "--epochs", str(1 + args.timed_epochs), "--verbose", "0", *passed,
    ]  # fmt: skip
    pretrain = load_pretrain_script()
    run = training.parse_run_flags(pretrain.build_parser(), script_argv)
    keras.utils.set_random_seed(run.seed)
    rng = np.random.default_rng(run.seed)
    shape = (images, run.image_size, run.image_size, 3)
    x, y = rng.integers(0, 256, shape, dtype="uint8"), rng.integers(0, 10, images)
    batches = pretrain.make_batches(run, x, y.astype("int32"))
    pretrainer = pretrain.build_pretrainer(run, num_classes=10)
    timer = EpochSeconds()
    training.fit_pretrainer(pretrainer, batches, run, callbacks=[timer])

    seconds = statistics.median(timer.seconds[1:])
    per_epoch = len(batches) * run.batch_size
    forward = conv_flops(pretrainer.backbone)
    epoch_flops = forward * 3 * 2 * per_epoch
    achieved = epoch_flops / seconds / 1e12
    peak, peak_note = device_peak(accelerators, run.dtype_policy)
    fraction = f"{100 * achieved / peak:.1f}% of peak" if peak else "fraction of peak unknown"
    print(
        f"FLOPs: conv = 2*H*W*k*k*Cin*Cout per image (output H, W): {forward / 1e9:.4g} GFLOP "
        f"forward per image; x3 training x2 views x {per_epoch} images = "
        f"{epoch_flops / 1e12:.4g} TFLOP per epoch ({peak_note})"
    )
    device = accelerators[0] if accelerators else "CPU"
    print(
        f"simclr_epoch: backend={keras.backend.backend()} device={device} "
        f"dtype={run.dtype_policy} data={'device' if run.data_on_device else 'host'} "
        f"resnet{run.depth} width={run.width:g} batch={run.batch_size} images={images} "
        f"steps/epoch={len(batches)} optimizer={run.optimizer}: {seconds:.3f} s/epoch "
        f"(median of {len(timer.seconds) - 1}), {per_epoch / seconds:.0f} images/s, "
        f"{achieved:.3g} TFLOP/s model, {fraction}",
        flush=True,
    )
    return {
        "seconds_per_epoch": seconds,
        "images_per_second": per_epoch / seconds,
        "forward_flops_per_image": forward,
        "tflops": achieved,
        "fraction_of_peak": achieved / peak if peak else None,
    }


if __name__ == "__main__":
    main()
