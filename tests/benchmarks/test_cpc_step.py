"""benchmarks/cpc_step.py at a toy size: every variant trains and is reported; no timings."""

import re
from pathlib import Path

import numpy as np

from tests.helpers import load_module

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"


def test_every_variant_runs_and_the_matmul_floor_scores_every_frame(capsys):
    step = load_module(BENCHMARKS / "cpc_step.py", "cpc_step")
    step.run("small", steps=1, warmup=1, window=1600, batch_size=2, banks=(40,), matmuls=True)
    line = capsys.readouterr().out.strip().splitlines()[-1]
    ratios = [float(r) for r in re.findall(r"ratio (\d+\.\d+)", line)]
    # per-anchor, shared, bank of 40, matmul floor: each a positive, finite ratio to the floor.
    assert len(ratios) == 4 and all(np.isfinite(r) and r > 0 for r in ratios), line
    assert "scoring's matmuls alone" in line and "bank of 40 frames" in line
    # The matmul floor's scores are every context against every frame, all K steps.
    backbone = step.CPCBackbone(**step.CONFIGS["small"]["backbone"])
    model = step.MatmulFloorModel(backbone, prediction_steps=6)
    context, scores = model(np.zeros((2, 1600), "float32"))
    frames = backbone.num_frames(1600)
    assert tuple(scores.shape) == (2 * frames, 2 * frames, 6)
    assert tuple(context.shape) == (2, frames, backbone.context_dim)
