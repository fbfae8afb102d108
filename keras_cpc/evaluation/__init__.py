"""keras_cpc.evaluation: linear probes of frozen features, with baselines, tables and plots.

`probe_preset` is the whole job (preset, random-init and raw-input columns on the image or
audio protocols); `linear_probe` is the probe itself; `features` turns images, clips or files
into the frozen features it takes; `probe_options` / `probe_command` turn
``linear_probe.py`` flags into options and back, and `probe_metadata` probes a saved preset for
its card.
"""

from keras_cpc.evaluation.features import (  # noqa: F401
    audio_features,
    file_features,
    image_features,
    input_suffixes,
    is_audio_backbone,
    mfcc_features,
    usable_files,
)
from keras_cpc.evaluation.linear_probe import (  # noqa: F401
    DEFAULT_C_VALUES,
    ProbeResult,
    linear_probe,
)
from keras_cpc.evaluation.probe_flags import (  # noqa: F401
    probe_command,
    probe_metadata,
    probe_options,
)
from keras_cpc.evaluation.protocols import (  # noqa: F401
    DEFAULT_AUDIO_DATA,
    audio_protocols,
    default_preset,
    limit_split,
    probe_preset,
    run_protocols,
)
from keras_cpc.evaluation.report import (  # noqa: F401
    describe_source,
    format_table,
    image_task_name,
    probe_table_markdown,
    save_plot,
    write_results,
)
