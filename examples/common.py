"""Shared helpers of the example scripts: data sources, splits, run records, model cards.

Imported by the scripts in this folder (``python examples/<script>.py`` puts this folder on
``sys.path``). Nothing here is part of the library API.
"""

import csv
import json
import os
import platform
import re
import shlex
import sys
import time
from pathlib import Path

import numpy as np

from keras_cpc.data.folders import AUDIO_SUFFIXES, IMAGE_SUFFIXES, list_class_folder, read_images

FSDD_NAME = re.compile(r"^(\d)_([A-Za-z]+)_(\d+)$")


# ---- run records ------------------------------------------------------------------------------


def exact_command(script=None, argv=None):
    """The command line of this run, quoted so it can be pasted back.

    ``script`` (default ``sys.argv[0]``) is given relative to the repository root (where the
    command is meant to be run from) when it lies inside it; ``argv`` defaults to
    ``sys.argv[1:]`` (pass the list given to ``main`` when called in-process).
    """
    script = Path(script or sys.argv[0]).resolve()
    root = Path(__file__).resolve().parent.parent
    if root in script.parents:
        script = script.relative_to(root)
    parts = ["python", str(script), *(sys.argv[1:] if argv is None else argv)]
    return " ".join(shlex.quote(part) for part in parts)


def source_version():
    """Git commit of the checkout the examples run from (None outside a git checkout)."""
    import subprocess

    try:
        done = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=Path(__file__).parent,
            capture_output=True,
            text=True,
            timeout=10,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() or None


def hardware_info():
    """A short description of where this runs: CPU model and cores, accelerators, backend."""
    import keras

    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    info = {
        "cpu": cpu,
        "cpu_cores_visible": os.cpu_count(),
        "cpu_cores_usable": len(os.sched_getaffinity(0))
        if hasattr(os, "sched_getaffinity")
        else os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "backend": keras.backend.backend(),
        "keras": keras.__version__,
        "accelerators": _accelerators(),
    }
    return info


def _accelerators():
    import keras

    backend = keras.backend.backend()
    try:
        if backend == "jax":
            import jax

            # device_kind names the model ("NVIDIA H200"); str(d) only says "cuda:0".
            return [f"{d.device_kind} ({d})" for d in jax.devices() if d.platform != "cpu"]
        if backend == "tensorflow":
            import tensorflow as tf

            return [
                tf.config.experimental.get_device_details(d).get("device_name", d.name)
                for d in tf.config.list_physical_devices("GPU")
            ]
        if backend == "torch":
            import torch

            if torch.cuda.is_available():
                return [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
    except Exception:  # noqa: BLE001 - description only
        pass
    return []


def write_json(path, data):
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2, default=_json_default) + "\n")


def _json_default(value):
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    return str(value)


class StepLog:
    """Callback writing one CSV row per training step: global step, epoch, loss and metrics.

    The global step is the optimizer's iteration count, so after a resume from a
    `keras.callbacks.BackupAndRestore` checkpoint the rows continue from the restored step:
    rows past it (from the part of the interrupted epoch that is redone) are dropped first.
    """

    def __new__(cls, *args, **kwargs):
        import keras

        # Built lazily so that importing this module does not import keras.
        class _StepLog(keras.callbacks.Callback):
            def __init__(self, path):
                super().__init__()
                self.path = Path(path)
                self.epoch = 0

            def on_train_begin(self, logs=None):
                restored = int(self.model.optimizer.iterations.numpy())
                rows = read_csv(self.path) if self.path.exists() else []
                self.rows = [row for row in rows if int(row["step"]) <= restored]
                self._write_all()

            def on_epoch_begin(self, epoch, logs=None):
                self.epoch = epoch

            def on_train_batch_end(self, batch, logs=None):
                row = {"step": int(self.model.optimizer.iterations.numpy()), "epoch": self.epoch}
                row.update({k: float(v) for k, v in (logs or {}).items()})
                self.rows.append(row)
                with open(self.path, "a", newline="") as handle:
                    writer = csv.DictWriter(handle, fieldnames=list(row))
                    if handle.tell() == 0:
                        writer.writeheader()
                    writer.writerow(row)

            def _write_all(self):
                self.path.parent.mkdir(parents=True, exist_ok=True)
                with open(self.path, "w", newline="") as handle:
                    if self.rows:
                        writer = csv.DictWriter(handle, fieldnames=list(self.rows[0]))
                        writer.writeheader()
                        writer.writerows(self.rows)

        return _StepLog(*args, **kwargs)


def read_csv(path):
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


def training_callbacks(checkpoint_dir, log_dir, save_freq="epoch"):
    """BackupAndRestore (resume after a kill), a per-epoch CSV and a per-step CSV log."""
    import keras

    callbacks = []
    if checkpoint_dir:
        callbacks.append(
            keras.callbacks.BackupAndRestore(
                str(Path(checkpoint_dir) / "backup"), save_freq=save_freq, delete_checkpoint=False
            )
        )
    if log_dir:
        log_dir = Path(log_dir)
        log_dir.mkdir(parents=True, exist_ok=True)
        callbacks.append(keras.callbacks.CSVLogger(str(log_dir / "epochs.csv"), append=True))
        callbacks.append(StepLog(log_dir / "steps.csv"))
        callbacks.append(EpochTimes(log_dir / "epochs_time.txt"))
    return callbacks


def EpochTimes(path):  # noqa: N802 - a callback factory, named like the class it returns
    """Callback appending each epoch's wall time in seconds to ``path`` (one per line)."""
    import keras

    class _EpochTimes(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.start = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            with open(path, "a") as handle:
                handle.write(f"{time.perf_counter() - self.start:.3f}\n")

    return _EpochTimes()


def total_epoch_time(log_dir):
    """Seconds of all finished epochs logged in ``log_dir`` (over resumed processes too)."""
    path = Path(log_dir or "") / "epochs_time.txt"
    if not log_dir or not path.exists():
        return None
    return round(sum(float(t) for t in path.read_text().split()), 1)


class Timer:
    def __enter__(self):
        self.start = time.perf_counter()
        return self

    def __exit__(self, *exc):
        self.seconds = time.perf_counter() - self.start


# ---- splits -----------------------------------------------------------------------------------


def fit_resumable(model, dataset, args, steps_per_epoch):
    """``model.fit`` with `training_callbacks`; prints and returns the run summary.

    The summary (steps, epochs, wall times, final epoch metrics) is also written to
    ``summary.json`` in ``args.checkpoint_dir`` when one is given.
    """
    import keras

    callbacks = training_callbacks(args.checkpoint_dir, args.checkpoint_dir)
    with Timer() as timer:
        history = model.fit(dataset, epochs=args.epochs, callbacks=callbacks, verbose=args.verbose)
    steps_done = int(keras.ops.convert_to_numpy(model.optimizer.iterations))
    final = {k: float(v[-1]) for k, v in history.history.items() if v}
    print(f"Done: {steps_done} steps in total, {timer.seconds:.1f} s in this process; {final}")
    summary = {
        "steps": steps_done,
        "steps_per_epoch": steps_per_epoch,
        "epochs": args.epochs,
        "wall_time_s_this_process": round(timer.seconds, 1),
        "wall_time_s_all_epochs": total_epoch_time(args.checkpoint_dir),
        "final_epoch_metrics": final,
    }
    if args.checkpoint_dir:
        write_json(Path(args.checkpoint_dir) / "summary.json", summary)
    return summary


def full_batch_steps(count, batch_size, steps_per_epoch, what):
    """Steps per epoch of full batches (``steps_per_epoch`` or one pass); refuses too few items."""
    if count // batch_size < 1:
        raise ValueError(
            f"Need at least one full batch: batch size {batch_size} but only {count} {what}."
        )
    return steps_per_epoch or count // batch_size


def epoch_order(rng, count, steps, batch_size):
    """Row order for ``steps`` full batches: as many fresh permutations as needed, joined."""
    reps = -(-steps * batch_size // count)
    return np.concatenate([rng.permutation(count) for _ in range(reps)])


def stratified_holdout(labels, fraction, seed):
    """(train_indices, holdout_indices): ``fraction`` of each class held out, seeded."""
    labels = np.asarray(labels)
    if not 0.0 < fraction < 1.0:
        raise ValueError(f"The held-out fraction must be in (0, 1); received {fraction!r}.")
    rng = np.random.default_rng(seed)
    train, holdout = [], []
    for label in np.unique(labels):
        members = np.flatnonzero(labels == label)
        members = members[rng.permutation(len(members))]
        count = max(1, int(round(fraction * len(members))))
        holdout.extend(members[:count])
        train.extend(members[count:])
    return np.sort(np.asarray(train, dtype=int)), np.sort(np.asarray(holdout, dtype=int))


def subset(indices, limit, seed):
    """At most ``limit`` of ``indices`` (a seeded random choice, kept in order)."""
    if limit is None or limit >= len(indices):
        return indices
    rng = np.random.default_rng(seed)
    return np.sort(rng.choice(indices, size=limit, replace=False))


# ---- images -----------------------------------------------------------------------------------


class LazyImages:
    """Images of a source, decoded only for the rows asked for (``take(rows)``)."""

    def __init__(self, source, image_size=None):
        self.image_size = image_size
        if is_tfds_source(source):
            self.images, self.labels, self.classes, _ = load_tfds_images(tfds_name(source))
            self.files = None
        else:
            self.files, self.labels, self.classes = list_class_folder(source, IMAGE_SUFFIXES)
            self.images = None

    def take(self, rows):
        if self.images is not None:
            return self.images[rows]
        return read_images([self.files[i] for i in rows], self.image_size)


def load_tfds(name, split="train"):
    """A TFDS dataset already present locally (never downloads) as a list of numpy dicts."""
    try:
        import tensorflow_datasets as tfds
    except ImportError as error:
        raise ImportError(
            f"Reading the TFDS dataset {name!r} needs tensorflow-datasets: "
            "pip install 'keras-cpc[data]'."
        ) from error
    try:
        builder = tfds.builder(name)
    except Exception as error:  # noqa: BLE001 - TFDS raises several types
        raise ValueError(f"TFDS has no dataset named {name!r} ({error}).") from None
    if not builder.is_prepared():
        raise FileNotFoundError(
            f"TFDS dataset {name!r} is not prepared locally in {builder.data_dir}; this script "
            "never downloads. Prepare it on a machine with internet "
            f"(tfds.builder({name!r}).download_and_prepare()) and copy the data dir, or pass a "
            "folder instead."
        )
    dataset = builder.as_dataset(split=split)
    return list(tfds.as_numpy(dataset))


def load_tfds_images(name, split="train"):
    records = load_tfds(name, split)
    images = np.stack([r["image"] for r in records]).astype("uint8")
    if images.shape[-1] == 1:
        images = np.repeat(images, 3, axis=-1)
    labels = np.asarray([int(r["label"]) for r in records])
    classes = [str(c) for c in sorted(set(labels.tolist()))]
    return images, labels, classes, None


def is_tfds_source(source):
    text = str(source)
    return text.startswith("tfds:") or (not Path(text).expanduser().exists() and "/" not in text)


def tfds_name(source):
    return str(source).removeprefix("tfds:")


def load_digits_images(image_size=32):
    """scikit-learn's 8x8 handwritten digits (1797, ships with scikit-learn) as RGB uint8.

    Grey levels 0..16 become 0..255, the 8x8 images are upsampled (bilinear) to
    ``image_size`` and repeated over 3 channels, the input a CIFAR-stem ResNet preset takes.
    """
    from PIL import Image
    from sklearn.datasets import load_digits

    digits = load_digits()
    images = []
    for image in digits.images:
        grey = Image.fromarray((image * (255.0 / 16.0)).astype("uint8"))
        grey = grey.resize((image_size, image_size), Image.BILINEAR)
        images.append(np.repeat(np.asarray(grey)[..., None], 3, axis=-1))
    return np.stack(images), digits.target.astype(int), [str(i) for i in range(10)], None


# ---- audio ------------------------------------------------------------------------------------


def _peak_normalised(clip):
    return clip / max(float(np.max(np.abs(clip))), 1e-6)


def _clip_info(digit, speaker, index, names):
    """Per-clip labels of an FSDD-style set, as arrays aligned with the clips."""
    return {
        "digit": np.asarray(digit),
        "speaker": np.asarray(speaker),
        "index": np.asarray(index),
        "file": np.asarray(names),
    }


def load_fsdd_folder(root, sample_rate=8000, limit=None, seed=0):
    """FSDD-layout clips ``{digit}_{speaker}_{index}.wav`` (searched recursively).

    Returns ``(clips, info)``: a list of float32 mono waveforms at ``sample_rate`` (peak
    normalised) and a dict of numpy arrays ``digit``, ``speaker`` (names), ``index``, ``file``.
    Files that do not parse or cannot be read are skipped with a warning naming them.
    """
    import soundfile

    from keras_cpc.models.audio_classifier import resample_waveform

    root = Path(root).expanduser()
    if not root.is_dir():
        raise FileNotFoundError(f"Expected a folder of FSDD-style .wav files; received {root}.")
    files = sorted(p for p in root.rglob("*") if p.suffix.lower() in AUDIO_SUFFIXES)
    parsed = [(p, FSDD_NAME.match(p.stem)) for p in files]
    skipped = [p for p, m in parsed if m is None]
    if skipped:
        print(
            f"warning: skipping {len(skipped)} files not named {{digit}}_{{speaker}}_{{index}} "
            f"(first: {skipped[0]})",
            file=sys.stderr,
        )
    parsed = [(p, m) for p, m in parsed if m is not None]
    if limit is not None and limit < len(parsed):
        keep = np.sort(np.random.default_rng(seed).choice(len(parsed), limit, replace=False))
        parsed = [parsed[i] for i in keep]
    clips, digit, speaker, index, names = [], [], [], [], []
    for path, match in parsed:
        try:
            data, rate = soundfile.read(path, dtype="float32", always_2d=True)
        except Exception as error:  # noqa: BLE001 - any unreadable file is skipped loudly
            print(f"warning: skipping unreadable file {path} ({error})", file=sys.stderr)
            continue
        if len(data) == 0:
            print(f"warning: skipping empty file {path}", file=sys.stderr)
            continue
        clips.append(_peak_normalised(resample_waveform(data.mean(axis=1), rate, sample_rate)))
        digit.append(int(match.group(1)))
        speaker.append(match.group(2))
        index.append(int(match.group(3)))
        names.append(str(path))
    if not clips:
        raise ValueError(f"Expected FSDD-style .wav files under {root}; found none readable.")
    return clips, _clip_info(digit, speaker, index, names)


def load_tfds_audio(name, sample_rate=8000):
    """TFDS ``spoken_digit`` (or another audio set with ``audio``/``label``), if present locally."""
    from keras_cpc.models.audio_classifier import resample_waveform

    records = load_tfds(name)
    clips, digit, speaker, index, names = [], [], [], [], []
    for position, record in enumerate(records):
        audio = np.asarray(record["audio"], dtype="float32")
        if np.issubdtype(np.asarray(record["audio"]).dtype, np.integer):
            audio = audio / 32768.0
        clips.append(_peak_normalised(resample_waveform(audio, 8000, sample_rate)))
        digit.append(int(record["label"]))
        filename = record.get("audio/filename", b"")
        filename = filename.decode() if isinstance(filename, bytes) else str(filename)
        match = FSDD_NAME.match(Path(filename).stem)
        speaker.append(match.group(2) if match else "unknown")
        index.append(int(match.group(3)) if match else position)
        names.append(filename)
    return clips, _clip_info(digit, speaker, index, names)


def load_audio(source, sample_rate=8000, limit=None, seed=0):
    if is_tfds_source(source):
        clips, info = load_tfds_audio(tfds_name(source), sample_rate)
        if limit is not None and limit < len(clips):
            keep = np.sort(np.random.default_rng(seed).choice(len(clips), limit, replace=False))
            clips = [clips[i] for i in keep]
            info = {k: v[keep] for k, v in info.items()}
        return clips, info
    return load_fsdd_folder(source, sample_rate, limit=limit, seed=seed)


# ---- presets and model cards ------------------------------------------------------------------


def save_preset_with_card(backbone, args, metadata, objective_lines, usage_lines):
    """``backbone.save_to_preset(args.save_preset)`` with metadata and a written model card."""
    name = args.preset_name or Path(args.save_preset).name
    card = model_card(name, metadata, objective_lines, usage_lines)
    backbone.save_to_preset(
        args.save_preset, overwrite=args.overwrite, metadata=metadata, readme=card
    )
    print(f"Wrote preset {args.save_preset}")


def model_card(name, metadata, objective_lines, usage_lines):
    """Markdown model card: what the preset is, how it was made, what it measures."""
    training = metadata["training"]
    hardware = metadata["hardware"]
    data = metadata["training_data"]
    lines = [
        f"# {name}",
        "",
        metadata["description"] + ".",
        "",
        "## Training",
        "",
        *objective_lines,
        f"- Data: `{data['source']}`, {data['examples']} training examples; "
        f"{data['held_out']} held out ({data['split']})",
        f"- Seed: {metadata['seed']}",
        f"- Wall time: {training['wall_time_s_all_epochs'] or training['wall_time_s_this_process']}"
        " s of training (sum of the epochs' times over all processes of the run)",
        f"- Hardware: {hardware['cpu']} ({hardware['cpu_cores_usable']} usable cores), "
        f"accelerators: {', '.join(hardware['accelerators']) or 'none'}; Keras "
        f"{hardware['keras']}, {hardware['backend']} backend",
        f"- Final epoch metrics: `{json.dumps(training['final_epoch_metrics'])}`",
        "",
        "Exact command:",
        "",
        "```",
        metadata["training_command"],
        "```",
    ]
    probe = metadata.get("probe_results")
    if probe:
        lines += ["", "## Linear probe (measured)", "", *probe_table_markdown(probe)]
        if metadata.get("probe_command"):
            lines += ["", "Command:", "", "```", metadata["probe_command"], "```"]
    else:
        lines += ["", "## Linear probe", "", "Not measured in this run (add --probe)."]
    lines += ["", "## Usage", "", "```python"]
    lines += [line.replace("{name}", name) for line in usage_lines]
    lines += ["```", ""]
    return "\n".join(lines)


def probe_table_markdown(summary):
    columns = summary["columns"]
    lines = [
        f"Split: {summary['split']}.",
        "",
        "| task | " + " | ".join(columns) + " |",
        "|---|" + "---:|" * len(columns),
    ]
    for task, row in summary["accuracy"].items():
        lines.append(f"| {task} | " + " | ".join(f"{100 * row[c]:.1f}%" for c in columns) + " |")
    return lines
