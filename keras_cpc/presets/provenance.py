"""Recording where a remote preset's files came from, in its metadata and on its model card."""

import json
from pathlib import Path

from keras_cpc.presets.integrity import sha256_of
from keras_cpc.presets.layout import METADATA_FILE, README_FILE, read_json


def annotate_download(directory, name, records):
    """Add the downloaded files (URL, size, sha256, pinned or not) to a converted preset.

    ``metadata.json`` gains ``download`` and the model card a "Download" section that says,
    for each file, whether its sha256 was pinned in the registry or recorded on first download
    (the official sources publish no digests); the card's sha256 in ``metadata.json`` is
    updated. Meant for a preset still in its staging folder, before it is moved into place.

    Args:
        directory: the converted preset.
        name: the remote preset name.
        records: ``{relative path: {"url", "size", "sha256", "pinned", "recorded"}}``.

    Example:
        >>> annotate_download(staging / "preset", "cpc_audio_librilight_60k", records)
    """
    directory = Path(directory)
    metadata = read_json(directory / METADATA_FILE)
    metadata["download"] = {"preset": name, "files": records}
    lines = [
        "",
        "## Download",
        "",
        f'Fetched and converted by `from_preset("{name}")` into the keras_cpc cache '
        "(`$KERAS_HOME/keras_cpc/remote/`):",
        "",
    ]
    for record in records.values():
        if record.get("pinned"):
            state = "pinned in keras_cpc's registry"
        else:
            state = (
                f"recorded on first download ({record.get('recorded')}), not pinned: the "
                "source publishes no digest"
            )
        lines.append(
            f"- {record['url']}: {record['size']:,} bytes, sha256 `{record['sha256']}` ({state})"
        )
    card = directory / README_FILE
    card.write_text(card.read_text().rstrip("\n") + "\n" + "\n".join(lines) + "\n")
    metadata["files"][README_FILE] = sha256_of(card)
    (directory / METADATA_FILE).write_text(json.dumps(metadata, indent=2))
    return metadata
