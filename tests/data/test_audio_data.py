import numpy as np
import pytest
import soundfile

from keras_cpc.data import (
    AudioFolderSource,
    RandomWindows,
    TFDSAudioSource,
    UtteranceDataset,
    as_tf_dataset,
    fsdd_label_parser,
    load_audio,
    normalize_loudness,
    normalize_peak,
    resample,
)


def tone(samples, freq=440.0, rate=8000):
    return (0.3 * np.sin(2 * np.pi * freq * np.arange(samples) / rate)).astype("float32")


@pytest.fixture
def fsdd_folder(tmp_path):
    folder = tmp_path / "recordings"
    folder.mkdir()
    for digit, speaker, index, samples in [
        (0, "alice", 0, 1200),
        (3, "bob", 1, 2400),
        (7, "alice", 2, 600),
        (9, "carol", 3, 3000),
    ]:
        path = folder / f"{digit}_{speaker}_{index}.wav"
        soundfile.write(path, tone(samples, 300 + 50 * digit), 8000)
    soundfile.write(folder / "5_bob_4.wav", np.zeros((0,), "float32"), 8000)  # empty
    (folder / "6_bob_5.wav").write_bytes(b"RIFF\x00\x01garbage" * 10)  # corrupt
    soundfile.write(folder / "notes.wav", tone(800), 8000)  # name the parser rejects
    soundfile.write(folder / "8_dan_6.wav", tone(4000), 8000, subtype="PCM_16")
    whole = (folder / "8_dan_6.wav").read_bytes()
    (folder / "8_dan_6.wav").write_bytes(whole[: len(whole) // 2])  # truncated
    return folder


def test_fsdd_label_parser():
    assert fsdd_label_parser("a/b/7_jackson_32.wav") == {
        "digit": 7,
        "speaker": "jackson",
        "index": 32,
    }
    with pytest.raises(ValueError, match="received 'x.wav'"):
        fsdd_label_parser("x.wav")


def test_folder_source_skips_bad_files_with_warnings_naming_them(fsdd_folder):
    with pytest.warns(UserWarning) as record:
        source = AudioFolderSource(fsdd_folder, 16000, fsdd_label_parser, label_key="digit")
    assert len(record) == 1
    message = str(record[0].message)
    for name in ("5_bob_4.wav", "6_bob_5.wav", "notes.wav", "8_dan_6.wav: truncated"):
        assert name.split(":")[0] in message
    assert "truncated: header says 8000 bytes of audio, file holds 3978" in message
    assert len(source) == 4 and len(source.skipped) == 4
    assert source.labels == [0, 3, 7, 9]
    waveform = source.load(1)  # 2400 samples at 8 kHz -> 4800 at 16 kHz, peak-normalised
    assert waveform.shape == (4800,) and waveform.dtype == np.float32
    np.testing.assert_allclose(np.abs(waveform).max(), 1.0, rtol=1e-6)
    with pytest.warns(UserWarning, match="notes.wav"):
        speakers = AudioFolderSource(
            fsdd_folder, 8000, fsdd_label_parser, label_key="speaker", on_error="warn"
        )
    assert speakers.label_names == ["alice", "bob", "carol"] and speakers.labels == [0, 1, 0, 2]
    with pytest.raises(ValueError, match="5_bob_4.wav: empty"):
        AudioFolderSource(fsdd_folder, 8000, fsdd_label_parser, on_error="raise")
    with pytest.warns(UserWarning, match="too short"):
        short = AudioFolderSource(fsdd_folder, 8000, fsdd_label_parser, min_samples=1000)
    assert len(short) == 3


def test_load_audio_mono_and_resampling(tmp_path):
    stereo = np.stack([tone(800), np.zeros(800, "float32")], axis=1)
    path = tmp_path / "stereo.flac"
    soundfile.write(path, stereo, 8000)
    mono, rate = load_audio(path)
    assert rate == 8000 and mono.shape == (800,)
    np.testing.assert_allclose(mono, stereo.mean(axis=1), atol=1e-4)
    with pytest.raises(ValueError, match="Expected mono.*received 2 channels"):
        load_audio(path, mono="error")
    up, rate = load_audio(path, sample_rate=16000)
    assert rate == 16000 and up.shape == (1600,)
    assert resample(tone(8000), 8000, 4000).shape == (4000,)
    np.testing.assert_allclose(np.abs(normalize_peak(tone(100))).max(), 1.0, rtol=1e-6)
    np.testing.assert_allclose(np.abs(normalize_peak(tone(100), 0.5)).max(), 0.5, rtol=1e-6)
    assert not normalize_peak(np.zeros(5, "float32")).any()
    rms = np.sqrt(np.mean(normalize_loudness(tone(800)) ** 2))
    np.testing.assert_allclose(20 * np.log10(rms), -23.0, atol=1e-3)


def test_window_and_utterance_datasets(fsdd_folder):
    with pytest.warns(UserWarning):
        source = AudioFolderSource(fsdd_folder, 8000, fsdd_label_parser, label_key="digit")
    windows = RandomWindows(source, window=1000, batch_size=2, seed=0)
    assert len(windows) == 2
    (batch,) = windows[0]
    assert batch["waveform"].shape == (2, 1000) and batch["padding_mask"].dtype == bool
    (again,) = RandomWindows(source, window=1000, batch_size=2, seed=0)[0]
    np.testing.assert_array_equal(batch["waveform"], again["waveform"])
    # The 600-sample clip is padded: its mask covers exactly its samples.
    all_masks = np.concatenate([windows[i][0]["padding_mask"] for i in range(2)])
    assert sorted(all_masks.sum(axis=1)) == [600, 1000, 1000, 1000]

    utterances = UtteranceDataset(source, batch_size=3, multiple_of=40)
    inputs, labels = utterances[0]
    assert inputs["waveform"].shape == (3, 2400) and labels.tolist() == [0, 3, 7]
    assert inputs["padding_mask"].sum(axis=1).tolist() == [1200, 2400, 600]
    assert utterances[1][0]["waveform"].shape == (1, 3000)


def test_datasets_feed_fit_as_pydataset_and_tf_data(fsdd_folder):
    from keras_cpc.models import CPCPretrainer
    from tests.fixtures.backbones import tiny_cpc_backbone

    with pytest.warns(UserWarning):
        source = AudioFolderSource(fsdd_folder, 8000, fsdd_label_parser, label_key="digit")
    pretrainer = CPCPretrainer(tiny_cpc_backbone(), prediction_steps=2, num_negatives=4, seed=0)
    pretrainer.compile(optimizer="adam")
    windows = RandomWindows(source, window=800, batch_size=2, seed=0)
    first = pretrainer.fit(windows, epochs=1, verbose=0).history["loss"]
    second = pretrainer.fit(as_tf_dataset(windows), epochs=1, verbose=0).history["loss"]
    assert np.isfinite(first + second).all()


def test_moved_file_is_skipped_with_warning_during_training(fsdd_folder):
    with pytest.warns(UserWarning):
        source = AudioFolderSource(fsdd_folder, 8000, fsdd_label_parser)
    (fsdd_folder / "3_bob_1.wav").unlink()
    windows = RandomWindows(source, window=500, batch_size=4, seed=0)
    with pytest.warns(UserWarning, match="3_bob_1.wav"):
        (batch,) = windows[0]
    assert batch["waveform"].shape == (4, 500)


def test_tfds_source_without_local_data_fails_clearly(tmp_path):
    with pytest.raises(FileNotFoundError, match="'spoken_digit' is not prepared"):
        TFDSAudioSource("spoken_digit", data_dir=str(tmp_path))
    with pytest.raises(ValueError, match="Expected a known TFDS audio dataset"):
        TFDSAudioSource("mnist", data_dir=str(tmp_path))
