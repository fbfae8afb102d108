"""Remote presets, offline: a local HTTP server on 127.0.0.1 stands in for the official hosts.

Test entries are registered inside the tests (a scratch registry), pointing at files served
from a temporary folder: the CPC_audio fixture (real converter, end to end) or small files with
a stub converter (the download and cache rules).
"""

import functools
import hashlib
import http.server
import json
import shutil
import socket
import threading
from pathlib import Path

import keras
import numpy as np
import pytest

import keras_cpc
from keras_cpc.models import CPCBackbone, ResNetBackbone
from keras_cpc.models.convert import CONVERTERS, load_converter
from keras_cpc.models.cpc.cpc_audio_checkpoint import read_checkpoint
from keras_cpc.presets import registry, remote
from keras_cpc.presets.download import CorruptDownloadError
from tests.fixtures.backbones import audio_batch, tiny_audio_backbone

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
CPC_FIXTURE = FIXTURES / "cpc_audio" / "lstm_hub_format"
SIMCLR_FIXTURE = FIXTURES / "simclr_tf1" / "r50_0.0625x_sk0"


class _Handler(http.server.SimpleHTTPRequestHandler):
    """Serves ``directory``; ``server.truncate`` paths send half the body under the full
    Content-Length, ``server.extra_headers`` are added to every answer."""

    def end_headers(self):
        for key, value in self.server.extra_headers.items():
            self.send_header(key, value)
        super().end_headers()

    def do_GET(self):
        self.server.requests.append(self.path)
        path = self.path.lstrip("/")
        if path in self.server.truncate:
            body = (Path(self.directory) / path).read_bytes()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body[: len(body) // 2])
            self.close_connection = True
            return
        super().do_GET()

    def log_message(self, *args):
        pass


@pytest.fixture
def server(tmp_path):
    """A file server on 127.0.0.1 for ``tmp_path / "served"``; stopped after the test."""
    served = tmp_path / "served"
    served.mkdir()
    handler = functools.partial(_Handler, directory=str(served))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    httpd.requests, httpd.truncate, httpd.extra_headers = [], set(), {}
    httpd.folder = served
    httpd.url = f"http://127.0.0.1:{httpd.server_address[1]}/"
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield httpd
    httpd.shutdown()
    httpd.server_close()
    thread.join()


@pytest.fixture
def home(tmp_path, monkeypatch):
    """A scratch KERAS_HOME and registry; no base-URL override from the environment."""
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras_home"))
    monkeypatch.delenv(remote.BASE_URL_ENV, raising=False)
    keras_cpc.register_shipped_presets()
    monkeypatch.setattr(registry, "_REGISTRY", dict(registry._REGISTRY))
    return tmp_path / "keras_home"


@pytest.fixture
def stub_converter(monkeypatch):
    """Replaces the converter loader: every converter writes a tiny CPC preset; calls counted."""
    calls = []

    def convert(source, output_dir, *, name=None, progress=True, **options):
        calls.append({"source": source, "name": name, **options})
        payload = Path(source).read_bytes()
        tiny_audio_backbone(seed=payload[0]).save_to_preset(
            output_dir, metadata={"description": "stub", "source": {"url": options["source_url"]}}
        )
        return {"preset_dir": output_dir, "mapped": [], "skipped": [], "config": {}}

    monkeypatch.setitem(remote._CONVERTER_LOADER, "load", lambda spec: convert)
    return calls


def _register(name, base_url, files, source=None, converter=CONVERTERS["cpc_audio"], **extra):
    spec = {
        "base_url": base_url,
        "files": files,
        "source": source or files[0]["path"],
        "converter": converter,
        **extra,
    }
    registry.register_presets(
        {name: {"metadata": {"description": f"{name} (test)", "remote": spec}}},
        "keras_cpc>CPCBackbone",
    )


def _serve(server, path, payload):
    target = server.folder / path
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(payload)
    return {"path": path, "size": len(payload), "sha256": hashlib.sha256(payload).hexdigest()}


def _closed_port_url():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}/"


def test_cpc_audio_checkpoint_is_downloaded_converted_cached_and_reloaded_offline(
    home, server, monkeypatch
):
    payload = (CPC_FIXTURE / "cpc_lstm.pt").read_bytes()
    item = _serve(server, "ckpt/cpc_lstm.pt", payload)
    # The entry names an official-looking host; the environment points it at the local server.
    _register("test_remote_cpc", "https://dl.fbaipublicfiles.com/nowhere/", [item])
    monkeypatch.setenv(remote.BASE_URL_ENV, server.url)
    listed = keras_cpc.list_presets()["test_remote_cpc"]
    assert (listed["remote"], listed["cached"], listed["directory"]) == (True, False, None)
    backbone = CPCBackbone.from_preset("test_remote_cpc")
    assert server.requests == ["/ckpt/cpc_lstm.pt"]
    cache = home / "keras_cpc" / "remote" / "test_remote_cpc"
    assert keras_cpc.list_presets()["test_remote_cpc"]["directory"] == str(cache / "preset")
    records = json.loads((cache / "sources.json").read_text())
    assert records["ckpt/cpc_lstm.pt"]["sha256"] == item["sha256"]
    assert records["ckpt/cpc_lstm.pt"]["pinned"] is True
    metadata = json.loads((cache / "preset" / "metadata.json").read_text())
    assert metadata["source"]["url"] == server.url + "ckpt/cpc_lstm.pt"
    assert metadata["source"]["sha256"] == item["sha256"]
    assert metadata["download"]["files"] == records
    card = (cache / "preset" / "README.md").read_text()
    assert f"sha256 `{item['sha256']}` (pinned in keras_cpc's registry)" in card

    server.shutdown()  # from here on, any download attempt would fail
    again = CPCBackbone.from_preset("test_remote_cpc")
    # The same weights as the first load, holding the checkpoint's tensors (that the conversion
    # reproduces the official outputs is tests/models/cpc/test_convert_cpc_audio.py's job; the
    # SimCLR test below checks outputs through a remote download).
    values = [keras.ops.convert_to_numpy(w) for w in again.weights]
    for first, second in zip(backbone.weights, values, strict=True):
        np.testing.assert_array_equal(keras.ops.convert_to_numpy(first), second)
    bias = read_checkpoint(CPC_FIXTURE / "cpc_lstm.pt").state["gEncoder.conv0.bias"]
    assert any(v.shape == bias.shape and np.array_equal(v, bias) for v in values)
    assert server.requests == ["/ckpt/cpc_lstm.pt"]


def test_shipped_simclr_entry_fetches_its_three_tf1_files_and_converts_them(
    home, server, monkeypatch
):
    # The shipped entry, its files served from a mirror of the official layout that holds the
    # 1/16-width ResNet-50 fixture (same variable names as r50_1x_sk0) under the released names.
    folder = "simclrv2/pretrained/r50_1x_sk0/"
    for name in ("checkpoint", "model.ckpt-100.index", "model.ckpt-100.data-00000-of-00001"):
        served = name.replace("ckpt-100", "ckpt-250228")
        _serve(server, folder + served, (SIMCLR_FIXTURE / name).read_bytes())
    monkeypatch.setenv(remote.BASE_URL_ENV, server.url)
    backbone = ResNetBackbone.from_preset("simclr_v2_r50_1x_sk0_imagenet")
    assert sorted(server.requests) == sorted(
        f"/{folder}{n}"
        for n in ("checkpoint", "model.ckpt-250228.index", "model.ckpt-250228.data-00000-of-00001")
    )
    with np.load(SIMCLR_FIXTURE / "reference_outputs.npz") as reference:
        images, pooled = reference["input"] * 255.0, reference["final_avg_pool"]
    ours = keras.ops.convert_to_numpy(backbone.predict(images, verbose=0))
    assert np.max(np.abs(ours - pooled)) <= 1e-3 * np.max(np.abs(pooled))
    preset = home / "keras_cpc" / "remote" / "simclr_v2_r50_1x_sk0_imagenet" / "preset"
    card = (preset / "README.md").read_text()
    assert server.url + folder + "model.ckpt-250228" in card and "71.7" in card
    assert "not pinned: the source publishes no digest" in card


def test_truncated_download_is_refused_and_leaves_nothing(home, server, stub_converter):
    item = _serve(server, "a/weights.bin", bytes(range(256)) * 64)
    _register("test_truncated", server.url, [item])
    server.truncate.add("a/weights.bin")
    with pytest.raises(CorruptDownloadError, match=r"truncated: expected 16,384 bytes"):
        keras_cpc.models.Backbone.from_preset("test_truncated")
    files = home / "keras_cpc" / "remote" / "test_truncated" / "files" / "a"
    assert list(files.iterdir()) == []  # neither the file nor a partial one
    assert stub_converter == []


def test_a_short_file_under_an_honest_length_is_refused_by_the_pinned_size(
    home, server, stub_converter
):
    item = _serve(server, "w.bin", b"x" * 100)
    _register("test_short", server.url, [{**item, "size": 200, "sha256": None}])
    with pytest.raises(CorruptDownloadError, match=r"must be 200 bytes; received .* 100 bytes"):
        keras_cpc.models.Backbone.from_preset("test_short")
    assert stub_converter == []


def test_hash_mismatch_is_refused_and_the_download_deleted(home, server, stub_converter):
    item = _serve(server, "w.bin", b"\x01" * 1000)
    _register("test_hash", server.url, [{**item, "sha256": "0" * 64}])
    with pytest.raises(CorruptDownloadError, match="does not match its sha256: expected 0000"):
        keras_cpc.models.Backbone.from_preset("test_hash")
    assert list((home / "keras_cpc" / "remote" / "test_hash" / "files").iterdir()) == []
    # The torch.hub file-name prefix and the md5 of Google Cloud Storage are checked too.
    _register("test_prefix", server.url, [{"path": "w.bin", "sha256_prefix": "d0f474de"}])
    with pytest.raises(CorruptDownloadError, match="sha256 prefix in its name: expected d0f474de"):
        keras_cpc.models.Backbone.from_preset("test_prefix")
    server.extra_headers["x-goog-hash"] = "crc32c=AAAAAA==,md5=" + "A" * 22 + "=="
    _register("test_md5", server.url, [{"path": "w.bin"}])
    with pytest.raises(CorruptDownloadError, match=r"md5 its server sent \(x-goog-hash\)"):
        keras_cpc.models.Backbone.from_preset("test_md5")
    assert stub_converter == []


def test_unpinned_files_are_recorded_on_first_download_and_checked_after(
    home, server, stub_converter
):
    _serve(server, "w.bin", b"\x02" * 50)
    _register("test_tofu", server.url, [{"path": "w.bin"}])
    cache = home / "keras_cpc" / "remote" / "test_tofu"
    # A partial download of a killed process (no such pid) is cleaned up on the way.
    stale = cache / "files" / f".w.bin.part-{2**22 + 1}-abc"
    stale.parent.mkdir(parents=True)
    stale.write_bytes(b"partial")
    preset = keras_cpc.models.Backbone.from_preset("test_tofu")
    assert sorted(p.name for p in (cache / "files").iterdir()) == ["w.bin"]
    record = json.loads((cache / "sources.json").read_text())["w.bin"]
    assert record["pinned"] is False and record["size"] == 50
    assert record["sha256"] == hashlib.sha256(b"\x02" * 50).hexdigest()
    card = (cache / "preset" / "README.md").read_text()
    assert f"recorded on first download ({record['recorded']}), not pinned" in card
    assert isinstance(preset, CPCBackbone) and len(stub_converter) == 1
    # The download is lost and the server now sends other bytes: refused, not converted.
    shutil.rmtree(cache / "preset")
    (cache / "files" / "w.bin").unlink()
    _serve(server, "w.bin", b"\x03" * 50)
    with pytest.raises(CorruptDownloadError, match="does not match its sha256"):
        keras_cpc.models.Backbone.from_preset("test_tofu")
    assert len(stub_converter) == 1


def test_no_server_gives_the_offline_message_naming_the_url_and_the_way_out(
    home, stub_converter, monkeypatch
):
    _register("test_offline", "https://example.invalid/official/", [{"path": "m.pt"}])
    monkeypatch.setenv(remote.BASE_URL_ENV, _closed_port_url())
    with pytest.raises(remote.RemotePresetUnavailableError) as raised:
        CPCBackbone.from_preset("test_offline")
    message = str(raised.value)
    ((url, _),) = remote.remote_urls(remote.remote_spec("test_offline"))
    assert url.startswith("http://127.0.0.1:") and f"{url} (" in message
    assert "keras-cpc convert" in message and "--name test_offline" in message
    assert remote.BASE_URL_ENV in message
    assert not (home / "keras_cpc" / "remote" / "test_offline" / "preset").exists()
    assert stub_converter == []


def test_damaged_cached_preset_is_converted_again_from_the_kept_download(
    home, server, stub_converter
):
    item = _serve(server, "w.bin", b"\x05" * 10)
    _register("test_damaged", server.url, [item])
    first = keras_cpc.models.Backbone.from_preset("test_damaged")
    server.shutdown()
    weights = home / "keras_cpc" / "remote" / "test_damaged" / "preset" / "model.weights.h5"
    weights.write_bytes(weights.read_bytes()[:-100])  # truncated on disk
    with pytest.warns(UserWarning, match="is damaged .*model.weights.h5.*converting it again"):
        second = keras_cpc.models.Backbone.from_preset("test_damaged")
    assert len(stub_converter) == 2 and len(server.requests) == 1
    audio = audio_batch(batch=1)
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(first.predict(audio, verbose=0)),
        keras.ops.convert_to_numpy(second.predict(audio, verbose=0)),
    )


def test_file_url_mirror_and_converter_arguments(home, tmp_path, stub_converter, monkeypatch):
    mirror = tmp_path / "mirror"
    (mirror / "x").mkdir(parents=True)
    (mirror / "x" / "m.pt").write_bytes(b"\x07" * 20)
    published = {"source": "a paper", "accuracy": 50.0}
    _register(
        "test_mirror",
        "https://example.invalid/",
        [{"path": "x/m.pt"}],
        converter_options={"include_head": False},
        published=published,
    )
    monkeypatch.setenv(remote.BASE_URL_ENV, mirror.as_uri())
    keras_cpc.models.Backbone.from_preset("test_mirror")
    (call,) = stub_converter
    assert call["source"].endswith("test_mirror/files/x/m.pt")
    assert call["source_url"] == mirror.as_uri() + "/x/m.pt"
    assert (call["name"], call["include_head"], call["published"]) == (
        "test_mirror",
        False,
        published,
    )


@pytest.mark.parametrize(
    "spec, message",
    [
        ({"base_url": "u", "files": [{"path": "../x"}], "source": "x", "converter": "m:f"}, ".."),
        ({"base_url": "u", "files": [], "source": "x", "converter": "m:f"}, "non-empty list"),
        ({"base_url": "u", "files": [{"path": "x"}], "source": "x", "converter": "m"}, "m:f|:"),
        ({"files": [{"path": "x"}], "source": "/x", "converter": "m:f"}, "base_url"),
    ],
)
def test_bad_remote_entries_are_refused_at_registration(home, spec, message):
    with pytest.raises(ValueError, match="'remote' block of preset 'bad' must have") as raised:
        registry.register_presets({"bad": {"metadata": {"remote": spec}}}, "keras_cpc>X")
    assert any(part in str(raised.value) for part in message.split("|"))


def test_converters_are_found_only_inside_keras_cpc_models():
    assert load_converter(CONVERTERS["cpc_audio"]).__name__ == "convert_cpc_audio_checkpoint"
    for spec in ("os:system", "keras_cpc.presets.remote:resolve_remote", "keras_cpc.models.x"):
        with pytest.raises(ValueError, match="keras_cpc.models.<family>.<module>:<function>"):
            load_converter(spec)


def test_shipped_remote_entries_name_official_https_sources():
    keras_cpc.register_shipped_presets()
    names = {"simclr_v2_r50_1x_sk0_imagenet", "simclr_v2_r152_3x_sk1_imagenet"}
    names |= {f"simclr_v1_r50_{w}_imagenet" for w in ("1x", "2x", "4x")}
    names |= {f"cpc_audio_librilight_{h}" for h in ("60k", "6k", "600h")}
    for name in names:
        spec = remote.remote_spec(name)
        assert spec["base_url"].startswith("https://"), name
        assert spec["converter"] in CONVERTERS.values()
        paths = [item["path"] for item in spec["files"]]
        if name.startswith("simclr"):
            assert {p.rsplit("/", 1)[1].split(".")[-1] for p in paths} == {
                "checkpoint",
                "index",
                "data-00000-of-00001",
            }
            assert spec["published"]["imagenet_linear_eval_top1"] > 60
        else:
            assert paths == [spec["source"]] and paths[0].endswith(".pt")
            assert spec["files"][0]["sha256_prefix"] in paths[0]
