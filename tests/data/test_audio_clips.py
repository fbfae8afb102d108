"""load_audio_clips reproduces the loader the shipped CPC preset was trained with; bad
files are skipped with one warning; RandomWindows epochs are a pure function of the seed."""

import pickle

import numpy as np
import pytest
import soundfile

import keras_cpc.data.sources as sources
from keras_cpc.data import (
    RandomWindows,
    TFDSAudioSource,
    UtteranceDataset,
    audio_preprocessing,
    load_audio_clips,
    resample,
)


def old_load_fsdd_folder(root, sample_rate=8000, limit=None, seed=0):
    """examples/common.py's load_fsdd_folder before the move (its stderr prints dropped).

    Its ``resample_waveform`` was ``keras_cpc.data.resample`` of the float32 array.
    """
    import re
    from pathlib import Path

    fsdd_name = re.compile(r"^(\d)_([A-Za-z]+)_(\d+)$")
    files = sorted(p for p in Path(root).rglob("*") if p.suffix.lower() in (".wav", ".flac"))
    parsed = [(p, fsdd_name.match(p.stem)) for p in files]
    parsed = [(p, m) for p, m in parsed if m is not None]
    if limit is not None and limit < len(parsed):
        keep = np.sort(np.random.default_rng(seed).choice(len(parsed), limit, replace=False))
        parsed = [parsed[i] for i in keep]
    clips, digit, speaker, index, names = [], [], [], [], []
    for path, match in parsed:
        data, rate = soundfile.read(path, dtype="float32", always_2d=True)
        clip = resample(np.asarray(data.mean(axis=1), dtype="float32"), rate, sample_rate)
        clips.append(clip / max(float(np.max(np.abs(clip))), 1e-6))
        digit.append(int(match.group(1)))
        speaker.append(match.group(2))
        index.append(int(match.group(3)))
        names.append(str(path))
    info = {"digit": digit, "speaker": speaker, "index": index, "file": names}
    return clips, {k: np.asarray(v) for k, v in info.items()}


@pytest.fixture
def recordings(tmp_path):
    """Mono and stereo clips at 8 and 16 kHz, int16 and float, in nested folders."""
    rng = np.random.default_rng(0)
    root = tmp_path / "recordings"
    (root / "more").mkdir(parents=True)
    for n, (digit, speaker, index) in enumerate([(0, "ann", 3), (4, "bo", 0), (9, "ann", 12)]):
        rate = (8000, 16000)[n % 2]
        clip = 0.4 * rng.standard_normal((900 + 300 * n, 1 + n % 2)).astype("float32")
        soundfile.write(root / f"{digit}_{speaker}_{index}.wav", clip, rate, subtype="PCM_16")
    soundfile.write(root / "more" / "2_cy_7.wav", 1e-3 * rng.standard_normal(700), 8000, "FLOAT")
    soundfile.write(root / "more" / "5_bo_1.flac", 0.2 * rng.standard_normal(1000), 8000)
    return root


def test_load_audio_clips_equals_the_old_loader(recordings):
    for rate, limit in ((8000, None), (16000, None), (8000, 3)):
        clips, info = load_audio_clips(recordings, rate, limit=limit, seed=1)
        old_clips, old_info = old_load_fsdd_folder(recordings, rate, limit=limit, seed=1)
        assert len(clips) == len(old_clips) == (limit or 5)
        for new, old in zip(clips, old_clips):
            assert new.dtype == old.dtype == np.float32
            np.testing.assert_array_equal(new, old)  # bit-identical
        assert list(info) == list(old_info)
        for key in info:
            np.testing.assert_array_equal(info[key], old_info[key])
    assert info["speaker"].tolist() == ["bo", "ann", "cy"]
    assert audio_preprocessing(8000)["sample_rate"] == 8000
    described = audio_preprocessing(16000)
    for key, value in {"mono": "average", "normalization": "peak", "peak": 1.0}.items():
        assert described[key] == value
    assert "soxr" in described["resampler"]


def test_truncated_and_bad_files_are_skipped_with_one_warning(recordings):
    soundfile.write(recordings / "3_dee_4.wav", np.full(4000, 0.1, "float32"), 8000, "PCM_16")
    whole = (recordings / "3_dee_4.wav").read_bytes()
    (recordings / "3_dee_4.wav").write_bytes(whole[:3000])  # soundfile reads it silently
    (recordings / "6_dee_5.wav").write_bytes(b"")
    (recordings / "7_dee_6.wav").write_bytes(b"RIFF\x00\x01garbage" * 10)
    soundfile.write(recordings / "readme.wav", np.zeros(100), 8000)
    assert len(soundfile.read(recordings / "3_dee_4.wav")[0]) == 1478
    with pytest.warns(UserWarning) as record:
        clips, info = load_audio_clips(recordings, 8000)
    assert len(record) == 1
    message = str(record[0].message)
    assert "3_dee_4.wav (truncated: header says 8000 bytes" in message
    for name in ("6_dee_5.wav", "7_dee_6.wav", "readme.wav"):
        assert name in message
    assert info["digit"].tolist() == [0, 4, 9, 2, 5] and len(clips) == 5


class FakeBuilder:
    name = "spoken_digit"


def test_tfds_labels_are_computed_once(monkeypatch):
    rng = np.random.default_rng(0)
    records = [
        {
            "audio": (3000 * rng.standard_normal(400 + 10 * i)).astype("int16"),
            "label": np.int64(i % 3),
            "audio/filename": f"{i % 3}_zed_{i}.wav".encode(),
        }
        for i in range(12)
    ]
    calls = []
    label_ids = sources._label_ids
    monkeypatch.setattr(sources, "prepared_builder", lambda name, data_dir: FakeBuilder())
    monkeypatch.setattr(sources, "read_builder", lambda *args: calls.append(1) or records)
    monkeypatch.setattr(sources, "_label_ids", lambda v: calls.append(2) or label_ids(v))
    source = TFDSAudioSource("spoken_digit", sample_rate=8000)
    batches = UtteranceDataset(source, batch_size=5)
    labels = np.concatenate([batches[i][1] for i in range(len(batches))])
    assert labels.tolist() == [i % 3 for i in range(12)] and source.labels[:4] == [0, 1, 2, 0]
    assert calls == [1, 2]  # read once, labels mapped once
    clip = source.load(2)
    assert clip.dtype == np.float32 and np.abs(clip).max() == 1.0
    clips, info = load_audio_clips("tfds:spoken_digit", 8000, limit=4, seed=0)
    assert len(clips) == 4 and info["speaker"].tolist() == ["zed"] * 4
    assert set(info["index"].tolist()) <= set(range(12)) and info["digit"].dtype.kind == "i"


def test_random_windows_epochs_are_a_pure_function_of_seed_and_epoch():
    rng = np.random.default_rng(0)
    clips = [rng.standard_normal(n).astype("float32") for n in (50, 80, 120, 30, 200, 90)]

    def epoch(windows):
        return [windows[i][0]["waveform"] for i in range(len(windows))]

    windows = RandomWindows(clips, window=64, batch_size=2, seed=3)
    assert len(windows) == 3
    first = epoch(windows)
    np.testing.assert_array_equal(epoch(windows)[1], first[1])  # a redone step repeats
    windows.on_epoch_end()
    second = epoch(windows)
    assert any(not np.array_equal(a, b) for a, b in zip(first, second))
    resumed = RandomWindows(clips, window=64, batch_size=2, seed=3)
    resumed.set_epoch(1)
    for a, b in zip(second, epoch(resumed)):
        np.testing.assert_array_equal(a, b)
    resumed.set_epoch(0)
    for a, b in zip(first, epoch(resumed)):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(epoch(pickle.loads(pickle.dumps(resumed)))[2], first[2])
    (batch,) = RandomWindows(clips, window=64, batch_size=6, seed=3)[0]
    assert sorted(batch["padding_mask"].sum(axis=1).tolist()) == [30, 50, 64, 64, 64, 64]
