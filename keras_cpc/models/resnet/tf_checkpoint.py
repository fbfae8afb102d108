"""A pure-Python reader of TensorFlow checkpoints (the tensor-bundle format), NumPy only.

A TF checkpoint ``<prefix>`` is ``<prefix>.index``, an SSTable (LevelDB table format) that maps
each variable name to a ``BundleEntryProto`` (dtype, shape, shard, offset, size), and the data
shards ``<prefix>.data-0000k-of-0000n`` holding the raw little-endian tensor bytes. Reading
them needs no TensorFlow, so converters work on JAX- or torch-only installs. Only what TF's
``BundleWriter`` writes is supported (uncompressed tables, whole, non-string tensors); anything
else gets a ValueError that says so.

Example:
    >>> reader = TFCheckpointReader("ResNet50_1x/model.ckpt-225206")
    >>> reader.shapes["base_model/conv2d/kernel"]
    (7, 7, 3, 64)
    >>> kernel = reader.read("base_model/conv2d/kernel")  # a NumPy array
"""

import re
import struct
from pathlib import Path

import numpy as np

_TABLE_MAGIC = 0xDB4775248B80FB57
_FOOTER_SIZE = 48
_BLOCK_TRAILER_SIZE = 5
# tensorflow/core/framework/types.proto DataType -> NumPy dtype (little-endian).
_DTYPES = {
    1: "<f4",
    2: "<f8",
    3: "<i4",
    4: "u1",
    5: "<i2",
    6: "i1",
    9: "<i8",
    10: "?",
    17: "<u2",
    19: "<f2",
    22: "<u4",
    23: "<u8",
}
_DTYPE_NAMES = {7: "string", 14: "bfloat16"}


def _varint(data, position):
    result = shift = 0
    while True:
        byte = data[position]
        position += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, position
        shift += 7


def _proto_fields(data):
    """{field number: [values]} of a serialised protobuf message (wire types 0, 1, 2, 5)."""
    fields = {}
    position = 0
    while position < len(data):
        key, position = _varint(data, position)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, position = _varint(data, position)
        elif wire == 1:
            value, position = data[position : position + 8], position + 8
        elif wire == 2:
            length, position = _varint(data, position)
            value, position = data[position : position + length], position + length
        elif wire == 5:
            value, position = data[position : position + 4], position + 4
        else:
            raise ValueError(f"Unsupported protobuf wire type {wire} in a checkpoint index.")
        fields.setdefault(number, []).append(value)
    return fields


def _block_entries(block):
    """(key, value) pairs of one SSTable block (prefix-compressed keys, restart array)."""
    num_restarts = struct.unpack_from("<I", block, len(block) - 4)[0]
    end = len(block) - 4 - 4 * num_restarts
    position, key = 0, b""
    while position < end:
        shared, position = _varint(block, position)
        unshared, position = _varint(block, position)
        value_length, position = _varint(block, position)
        key = key[:shared] + block[position : position + unshared]
        position += unshared
        yield key, block[position : position + value_length]
        position += value_length


def _read_block(data, handle, where):
    offset, position = _varint(handle, 0)
    size, _ = _varint(handle, position)
    if offset + size + _BLOCK_TRAILER_SIZE > len(data):
        raise ValueError(f"{where} is truncated: a table block ends past the end of the file.")
    if data[offset + size] != 0:
        raise ValueError(
            f"{where} uses table compression type {data[offset + size]}; expected 0 "
            "(uncompressed, what TensorFlow's checkpoint writer produces)."
        )
    return data[offset : offset + size]


def _table_entries(path):
    data = Path(path).read_bytes()
    if len(data) < _FOOTER_SIZE or struct.unpack("<Q", data[-8:])[0] != _TABLE_MAGIC:
        raise ValueError(
            f"{Path(path).name} is not a TensorFlow checkpoint index (no SSTable footer); "
            "expected the '.index' file of a checkpoint written by tf.train.Saver or "
            "tf.train.Checkpoint."
        )
    footer = data[-_FOOTER_SIZE:]
    _, position = _varint(footer, 0)  # metaindex handle: offset
    _, position = _varint(footer, position)  # metaindex handle: size
    index_handle = footer[position:]
    index_block = _read_block(data, index_handle, Path(path).name)
    for _, handle in _block_entries(index_block):
        yield from _block_entries(_read_block(data, handle, Path(path).name))


def resolve_checkpoint_prefix(source):
    """The checkpoint prefix named by ``source``.

    Args:
        source: a prefix (``.../model.ckpt-100``), its ``.index`` file, or a directory with a
            ``checkpoint`` file (its ``model_checkpoint_path``) or exactly one ``*.index``.

    Example:
        >>> resolve_checkpoint_prefix("r50_1x_sk0")  # -> Path("r50_1x_sk0/model.ckpt-250228")
    """
    path = Path(source)
    if path.name.endswith(".index") and path.is_file():
        return path.with_name(path.name[: -len(".index")])
    if path.is_dir():
        state = path / "checkpoint"
        if state.is_file():
            match = re.search(r'^model_checkpoint_path:\s*"(.*)"', state.read_text(), re.M)
            if match:
                # Paths may be absolute on the machine that trained (gs://...): keep the name.
                return path / Path(match.group(1)).name
        indexes = sorted(path.glob("*.index"))
        if len(indexes) == 1:
            return indexes[0].with_name(indexes[0].name[: -len(".index")])
        raise ValueError(
            f"Expected a TensorFlow checkpoint in {path}: a 'checkpoint' file or exactly one "
            f"'*.index' file; received {len(indexes)} index files "
            f"({', '.join(p.name for p in indexes) or 'none'})."
        )
    if Path(f"{path}.index").is_file():
        return path
    raise FileNotFoundError(
        f"No TensorFlow checkpoint at {source}: expected a prefix with a '.index' file beside "
        "it (e.g. model.ckpt-100 for model.ckpt-100.index), an '.index' file, or a directory "
        "holding a 'checkpoint' file."
    )


class TFCheckpointReader:
    """Variables of a TensorFlow checkpoint as NumPy arrays, read on demand.

    Args:
        source: see `resolve_checkpoint_prefix`.

    Attributes:
        prefix: the checkpoint prefix (a ``Path``).
        shapes: ``{name: shape tuple}`` of every variable.
        dtypes: ``{name: dtype name}`` of every variable.
        files: the files the checkpoint consists of (index first, then the data shards).

    Example:
        >>> reader = TFCheckpointReader("model_dir")
        >>> {name: reader.read(name) for name in reader.shapes if name.endswith("/kernel")}
    """

    def __init__(self, source):
        self.prefix = resolve_checkpoint_prefix(source)
        index = Path(f"{self.prefix}.index")
        self._entries = {}
        header = None
        for key, value in _table_entries(index):
            if key == b"":
                header = _proto_fields(value)
            else:
                self._entries[key.decode("utf-8")] = _proto_fields(value)
        if header is None:
            raise ValueError(f"{index.name} has no bundle header; expected a TF checkpoint index.")
        self._num_shards = header.get(1, [1])[0]
        if header.get(2, [0])[0] != 0:
            raise ValueError(f"{index.name} is big-endian; only little-endian data is supported.")
        self.shapes = {name: self._shape(entry) for name, entry in self._entries.items()}
        self.dtypes = {name: self._dtype_name(entry) for name, entry in self._entries.items()}
        shards = [self._shard_path(i) for i in range(self._num_shards)]
        missing = [p.name for p in shards if not p.is_file()]
        if missing:
            raise FileNotFoundError(
                f"Checkpoint {self.prefix.name} lists {self._num_shards} data shard(s); missing "
                f"{missing} next to {index.name}."
            )
        self.files = [index, *shards]

    def _shard_path(self, shard):
        return Path(f"{self.prefix}.data-{shard:05d}-of-{self._num_shards:05d}")

    @staticmethod
    def _shape(entry):
        if not entry.get(2):
            return ()
        dims = _proto_fields(entry[2][0]).get(2, [])
        return tuple(_proto_fields(dim).get(1, [0])[0] for dim in dims)

    @staticmethod
    def _dtype_name(entry):
        code = entry.get(1, [0])[0]
        if code in _DTYPES:
            return np.dtype(_DTYPES[code]).name
        return _DTYPE_NAMES.get(code, f"DataType {code}")

    def read(self, name):
        """The variable ``name`` as a NumPy array (a copy, native byte order).

        Args:
            name: a variable name, e.g. ``"base_model/conv2d/kernel"``.
        """
        if name not in self._entries:
            raise KeyError(f"{name!r} is not in checkpoint {self.prefix.name}.")
        entry = self._entries[name]
        code = entry.get(1, [0])[0]
        if code not in _DTYPES:
            raise ValueError(
                f"Variable {name!r} of {self.prefix.name} has dtype {self.dtypes[name]}; this "
                f"reader supports {sorted({np.dtype(d).name for d in _DTYPES.values()})}."
            )
        if entry.get(7):
            raise ValueError(
                f"Variable {name!r} of {self.prefix.name} is stored as partitioned slices; "
                "expected whole tensors."
            )
        shard = entry.get(3, [0])[0]
        offset = entry.get(4, [0])[0]
        size = entry.get(5, [0])[0]
        dtype = np.dtype(_DTYPES[code])
        shape = self.shapes[name]
        expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
        if size != expected:
            raise ValueError(
                f"Variable {name!r} of {self.prefix.name}: {size} bytes stored, expected "
                f"{expected} for shape {shape} and dtype {dtype.name}."
            )
        path = self._shard_path(shard)
        with open(path, "rb") as handle:
            handle.seek(offset)
            raw = handle.read(size)
        if len(raw) != size:
            raise ValueError(
                f"{path.name} is truncated: variable {name!r} needs bytes {offset}..{offset + size}"
                f", the file ends earlier."
            )
        return np.frombuffer(raw, dtype=dtype).reshape(shape).astype(dtype.newbyteorder("="))
