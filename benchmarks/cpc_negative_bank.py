"""Does a candidate bank of negatives slow CPC's learning? Accuracy after a short fit.

`CPCPretrainer(negative_bank_size=M)` draws every anchor's negatives through one bank of M
frames per step (`keras_cpc.losses.sample_negative_bank`): each anchor's negatives are still
independent uniform draws from the batch, but anchors share the bank, so a step sees at most
M distinct negatives. This fits a tiny CPC (3 conv layers, 16 channels, 40 samples per frame)
on clips of held random tones (16 clips x 20 frames = 320 frames per batch, 15 negatives,
K = 2) for a few epochs, once per bank size and seed, and prints the step-1 accuracy of every
epoch (chance 1/16).

Measured 2026-11-30 (PyTorch, one thread), accuracy_k1 after 8 epochs, seeds 0 / 1:
no bank 0.60 / 0.66; M = 30 (2N) 0.28 / 0.50; M = 60 0.40 / 0.36; M = 120 0.62 / 0.56.
Over ten seeds (``--banks none,60,160 --seeds 0,1,2,3,4,5,6,7,8,9``), mean (sd): no bank
0.674 (0.049); M = 160 0.624 (0.065); M = 60 0.526 (0.113). M = 60 = 4N is the ratio of a bank
of half the frames at the paper's shapes (M = 512, N = 128).

    KERAS_BACKEND=torch OMP_NUM_THREADS=1 python benchmarks/cpc_negative_bank.py
"""

import argparse

import keras

from keras_cpc.data import tone_clips
from keras_cpc.models import CPCBackbone, CPCPretrainer


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--banks", default="none,30,60,120", help="comma list; none = no bank")
    parser.add_argument("--seeds", default="0,1")
    parser.add_argument("--epochs", type=int, default=8)
    args = parser.parse_args()
    clips = tone_clips(64, 800)
    for bank in args.banks.split(","):
        size = None if bank == "none" else int(bank)
        for seed in (int(s) for s in args.seeds.split(",")):
            keras.utils.set_random_seed(seed)
            backbone = CPCBackbone(
                kernel_sizes=(10, 8, 4),
                strides=(5, 4, 2),
                encoder_dim=16,
                context_dim=16,
                normalization="layer",
                sample_rate=8000,
            )
            model = CPCPretrainer(
                backbone, prediction_steps=2, num_negatives=15, seed=seed, negative_bank_size=size
            )
            model.compile(optimizer=keras.optimizers.Adam(1e-2))
            history = model.fit(clips, batch_size=16, epochs=args.epochs, verbose=0).history
            accuracy = " ".join(f"{a:.2f}" for a in history["accuracy_k1"])
            print(f"bank {bank:>4} seed {seed}: accuracy_k1 by epoch {accuracy}", flush=True)


if __name__ == "__main__":
    main()
