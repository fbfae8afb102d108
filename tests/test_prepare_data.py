"""scripts/prepare_data.py on tiny generated inputs (a fake CIFAR-10 batch, tiny tarballs)."""

import io
import os
import pickle
import tarfile
import wave
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.helpers import load_module

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "prepare_data.py"
CLASSES = ["airplane", "automobile", "bird"]


@pytest.fixture(scope="module")
def prepare_data():
    return load_module(SCRIPT, "prepare_data")


def _add(archive, name, payload):
    info = tarfile.TarInfo(name)
    info.size = len(payload)
    archive.addfile(info, io.BytesIO(payload))


def _cifar_image(seed):
    # Smooth planes survive JPEG: red grows along the width, green along the height.
    x = np.arange(32, dtype=np.uint8) * 8
    red, green = np.tile(x, (32, 1)), np.tile(x[:, None], (1, 32))
    blue = np.full((32, 32), 10 * seed, dtype=np.uint8)
    return np.stack([red, green, blue])  # CIFAR's layout: planes first, rows, columns


def _cifar_batch(labels, seed):
    images = np.stack([_cifar_image(seed + i).reshape(-1) for i in range(len(labels))])
    return {b"data": images, b"labels": list(labels), b"batch_label": b"fake"}


def _cifar_tarball(path):
    """A CIFAR-10 python release in miniature: five batches of 2 images, meta, test batch."""
    with tarfile.open(path, "w:gz") as archive:
        for i in range(1, 6):
            batch = pickle.dumps(_cifar_batch([i % 3, (i + 1) % 3], seed=i), protocol=2)
            _add(archive, f"cifar-10-batches-py/data_batch_{i}", batch)
        meta = {b"label_names": [c.encode() for c in CLASSES]}
        _add(archive, "cifar-10-batches-py/batches.meta", pickle.dumps(meta, protocol=2))
        _add(archive, "cifar-10-batches-py/test_batch", pickle.dumps(_cifar_batch([0], 9)))
    return path


def _wav(samples=80):
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(8000)
        out.writeframes(np.arange(samples, dtype="<i2").tobytes())
    return buffer.getvalue()


def test_cifar_python_release(prepare_data, tmp_path):
    source = _cifar_tarball(tmp_path / "cifar-10-python.tar.gz")
    target = prepare_data.prepare("cifar10", str(source), data=tmp_path / "data")
    assert target == tmp_path / "data" / "cifar10" / "train"
    files = sorted(p.relative_to(target).as_posix() for p in target.rglob("*.jpg"))
    assert len(files) == 10  # five training batches of two; the test batch is not written
    assert {f.split("/")[0] for f in files} == set(CLASSES)
    assert "bird/0000.jpg" in files
    # The first image of data_batch_1 (label 1), planes turned into (height, width, RGB).
    expected = _cifar_image(1).transpose(1, 2, 0).astype(float)
    written = np.asarray(Image.open(target / "automobile" / "0000.jpg"), dtype=float)
    assert written.shape == (32, 32, 3)
    assert np.abs(written - expected).mean() < 6  # JPEG loss only
    assert oct(os.stat(target).st_mode & 0o777) != "0o700"
    assert not [p for p in target.parent.iterdir() if p.name.startswith(".")]  # no staging


def test_refuses_overwrite_unless_asked(prepare_data, tmp_path):
    source = _cifar_tarball(tmp_path / "cifar.tar.gz")
    data = tmp_path / "data"
    target = prepare_data.prepare("cifar10", str(source), data=data)
    (target / "marker").write_text("old")
    with pytest.raises(FileExistsError, match="--overwrite"):
        prepare_data.prepare("cifar10", str(source), data=data)
    assert (target / "marker").exists()
    prepare_data.prepare("cifar10", str(source), data=data, overwrite=True)
    assert not (target / "marker").exists() and len(list(target.rglob("*.jpg"))) == 10
    assert [p.name for p in target.parent.iterdir()] == ["train"]


def test_failure_leaves_nothing(prepare_data, tmp_path):
    bad = tmp_path / "not_cifar.tar.gz"
    with tarfile.open(bad, "w:gz") as archive:
        _add(archive, "something/else.txt", b"x")
    with pytest.raises(ValueError, match="data_batch_1..5"):
        prepare_data.prepare("cifar10", str(bad), data=tmp_path / "data")
    assert list((tmp_path / "data" / "cifar10").iterdir()) == []


def test_pickle_with_other_globals_is_refused(prepare_data, tmp_path):
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    for i in range(1, 6):
        (folder / f"data_batch_{i}").write_bytes(pickle.dumps({b"data": os.getcwd}))
    with pytest.raises(pickle.UnpicklingError, match="posix.getcwd|os.getcwd"):
        prepare_data.prepare("cifar10", str(folder), data=tmp_path / "data")


def test_project_archive_fsdd(prepare_data, tmp_path):
    archive_path = tmp_path / "fsdd-train.tar.gz"
    with tarfile.open(archive_path, "w:gz") as archive:
        for name in ("3_theo_7.wav", "0_george_27.wav"):
            _add(archive, f"recordings/{name}", _wav())
        _add(archive, "metadata.py", b"metadata = {}")
    target = prepare_data.prepare("fsdd", str(archive_path), data=tmp_path)
    assert sorted(p.name for p in target.iterdir()) == ["0_george_27.wav", "3_theo_7.wav"]
    assert (target / "3_theo_7.wav").read_bytes() == _wav()


def test_fsdd_repository_keeps_the_training_split(prepare_data, tmp_path):
    repo = tmp_path / "free-spoken-digit-dataset"
    (repo / "recordings").mkdir(parents=True)
    for name in ("1_jackson_0.wav", "1_jackson_4.wav", "1_jackson_5.wav", "2_lucas_49.wav"):
        (repo / "recordings" / name).write_bytes(_wav())
    (repo / "recordings" / "README.txt").write_text("not a clip")
    target = prepare_data.prepare("fsdd", str(repo), data=tmp_path / "a")
    assert sorted(p.name for p in target.iterdir()) == ["1_jackson_5.wav", "2_lucas_49.wav"]
    target = prepare_data.prepare("fsdd", str(repo), data=tmp_path / "b", include_test=True)
    assert len(list(target.iterdir())) == 4


def test_cli_errors_are_one_line(prepare_data, tmp_path):
    with pytest.raises(SystemExit, match="does not exist"):
        prepare_data.main(["fsdd", str(tmp_path / "missing"), "--data", str(tmp_path)])


def test_wav_bytes_from_int64_pcm(prepare_data):
    payload = prepare_data.wav_bytes(np.array([0, 1, -40000, 40000], dtype="int64"), 8000)
    with wave.open(io.BytesIO(payload)) as clip:
        assert (clip.getframerate(), clip.getnchannels(), clip.getsampwidth()) == (8000, 1, 2)
        samples = np.frombuffer(clip.readframes(4), dtype="<i2")
    assert samples.tolist() == [0, 1, -32768, 32767]
