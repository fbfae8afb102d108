"""Linear probe of several image presets on the held-out split, preset features only.

A quick comparison for recipe sweeps: the same split and probe as `examples/linear_probe.py`
(stratified 10% per class held out with seed 0, C chosen on validation), without the
random-init and raw-pixel baselines, which do not depend on the recipe.

    python scripts/probe_presets.py ~/data/cifar10/train runs/sweep/*/
"""

import sys
import time

from keras_cpc.data import ImageFolder, stratified_holdout
from keras_cpc.evaluation import image_features, linear_probe


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) < 2:
        raise SystemExit("usage: probe_presets.py DATA_DIR PRESET_DIR [PRESET_DIR ...]")
    from keras_cpc.models import ResNetBackbone

    data, presets = argv[0], argv[1:]
    source = ImageFolder(data, image_size=(32, 32))
    train, held_out = stratified_holdout(source.labels, 0.1, 0)
    x_train, x_held_out = source.take(train), source.take(held_out)
    for preset in presets:
        started = time.time()
        backbone = ResNetBackbone.from_preset(preset)
        result = linear_probe(
            image_features(backbone, x_train, batch_size=500),
            source.labels[train],
            image_features(backbone, x_held_out, batch_size=500),
            source.labels[held_out],
        )
        print(
            f"PROBE {preset}: held-out accuracy {result.test_accuracy:.4f} "
            f"(C {result.best_c:g}, val {result.val_accuracy:.4f}, {time.time() - started:.0f} s)",
            flush=True,
        )


if __name__ == "__main__":
    main()
