"""CPCPretrainer: K-step InfoNCE over a CPCBackbone's frame codes and context."""

import keras
from keras import ops

from keras_cpc import distribute
from keras_cpc.layers.arguments import as_int, as_int_tuple
from keras_cpc.layers.causal_transformer import CausalTransformer
from keras_cpc.layers.stochastic_code import StochasticCode
from keras_cpc.losses.cpc import (
    NEGATIVE_SAMPLING,
    SCORES,
    LinearPredictions,
    cpc_info_nce,
    cpc_scores,
    sample_negative_bank,
    sample_negatives,
)
from keras_cpc.metrics import ContrastiveAccuracy, MILowerBound

PREDICTORS = ("linear", "transformer")


def _is_concrete(x):
    # True when `x` holds values (eager TF / torch / JAX outside jit). Traced values (tf.function,
    # jax.jit) cannot be inspected, so data-dependent checks only run eagerly.
    try:
        ops.convert_to_numpy(x)
        return True
    except Exception:
        return False


@keras.saving.register_keras_serializable(package="keras_cpc")
class CPCPretrainer(keras.Model):
    """Contrastive Predictive Coding objective around a `CPCBackbone`.

    For every context position t and step k = 1..K, the predictor maps c_t to a prediction
    p_{t,k} (the paper's linear W_k c_t, or a small causal Transformer per k as in CPC_audio)
    and scores the true future frame z_{t+k} against ``num_negatives`` frames drawn from the
    batch: ``s = z^T p_{t,k}`` (``score="dot"``, the paper) or that divided by the code size
    (``score="mean"``, CPC_audio). The loss is InfoNCE (cross-entropy of picking the positive,
    the positive in column 0 of each score row) averaged over the valid (t, k) pairs of each
    step and summed over steps, as in the paper and CPC_audio. The sampling, scoring and loss
    are `keras_cpc.losses.cpc` (`sample_negatives`, `cpc_scores`, `cpc_info_nce`, which calls
    `keras_cpc.losses.info_nce(scores, positive_index=0)`); the metrics read the same
    per-pair losses and scores.

    Valid pairs and candidates: (t, k) counts only when frame t + k is a real frame of the
    clip (so short clips use whatever pairs they have); negatives are drawn uniformly from
    real frames only (``"batch"``: all clips of the batch, ``"same_sequence"``: the anchor's
    own clip), shared over k as in CPC_audio, and a drawn negative that is the positive frame
    itself is masked out (then that row has fewer candidates, and the MI bound uses the true
    count). A batch without any valid pair raises ValueError when it can be seen (eager
    execution or a static number of frames < 2); inside a compiled step it gives loss 0.

    Metrics in ``fit``: ``loss``; ``mi_lower_bound``, the running mean over valid pairs of
    ``ln(num_candidates) - InfoNCE`` in nats (the mean bound over k); ``accuracy_k{k}`` for the
    steps in ``accuracy_steps``; ``code_entropy`` when ``entropy_weight > 0``.

    Explicit negatives: pass ``{"waveform", ["padding_mask",] "negative_indices"}`` with
    integer ``negative_indices`` (batch, frames, num_negatives), or (batch, 1, num_negatives)
    for negatives shared over a clip, indexing the flattened (batch * frames) frames: then
    nothing is random and every backend computes the same loss.

    Data parallel (`keras_cpc.distribute`: tf.distribute, torch under torchrun, JAX
    DataParallel): the loss reported and the update applied are those of one device on the
    same global batch. Negatives are drawn from the global batch (each replica scores its
    anchors against the frames all-gathered from every replica, gradients included; one draw
    for the global batch, of which each replica takes its rows), explicit
    ``negative_indices`` index the global batch's frames, and each step's average divides by
    the global number of valid pairs.

    Args:
        backbone: a `CPCBackbone`.
        prediction_steps: K, the number of future frames predicted (paper 12).
        num_negatives: negatives per anchor (CPC_audio 128).
        negative_sampling: ``"batch"`` or ``"same_sequence"``.
        share_negatives: False (CPC_audio): every anchor (b, t) draws its own negatives.
            True: each clip draws one set of negatives shared by all its anchors; still an
            unbiased InfoNCE per anchor, and much cheaper (no (B, T, N) candidate tensor).
        negative_bank_size: per-anchor ``"batch"`` negatives only. None (default): every
            anchor's negatives are drawn from the batch's frames directly (CPC_audio). An
            int M >= num_negatives: drawn through a candidate bank of M frames
            (`keras_cpc.losses.sample_negative_bank`): each anchor takes num_negatives
            distinct bank entries, so its own negatives are still independent uniform draws
            from the batch (the same expected loss), and every prediction is scored against M
            frames instead of all of them. With the linear predictor, at the paper's shapes
            (8 x 128 frames), the JAX step costs 1.10x the encoder+GRU floor at M = 512 and
            1.06x at M = 256, against 1.16x without a bank (`benchmarks/cpc_step.py --config
            paper --bank-sizes 512,256`). But anchors share entries, so each step sees fewer
            distinct negatives, and that slows learning: on a toy tone task (320 frames, 15
            negatives), 8 epochs reached a mean accuracy over ten seeds of 0.53 (sd 0.11)
            with M = 60, the paper shapes' ratio M = 4N, 0.62 (sd 0.07) with M = 160 and 0.67
            (sd 0.05) without a bank (`benchmarks/cpc_negative_bank.py --banks none,60,160
            --seeds 0,...,9`). So the default stays CPC_audio's draws.
        predictor: ``"linear"`` (one W_k per step, no bias) or ``"transformer"``.
        predictor_heads: attention heads of the Transformer predictor.
        score: ``"dot"`` or ``"mean"`` (dot product divided by the code size).
        entropy_weight: beta of the entropy-regularised objective; 0 (default) is plain
            InfoNCE and creates no extra layer. With beta > 0 the frame codes and the context
            pass through `StochasticCode` layers and ``beta * (H(z) + H(c))`` is added.
        accuracy_steps: steps k whose accuracy is reported; default ``(1, K // 2, K)``.
        seed: seed of the negative sampler.

    Example:
        >>> backbone = CPCBackbone(encoder_dim=64, context_dim=32)
        >>> pretrainer = CPCPretrainer(backbone, prediction_steps=4, num_negatives=16)
        >>> pretrainer.compile(optimizer=keras.optimizers.Adam(2e-4))
        >>> pretrainer.fit(np.random.normal(size=(16, 3200)).astype("float32"), epochs=1)
    """

    def __init__(
        self,
        backbone,
        prediction_steps=12,
        num_negatives=128,
        negative_sampling="batch",
        share_negatives=False,
        negative_bank_size=None,
        predictor="linear",
        predictor_heads=4,
        score="dot",
        entropy_weight=0.0,
        accuracy_steps=None,
        seed=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        prediction_steps = as_int(prediction_steps, "prediction_steps", 1)
        num_negatives = as_int(num_negatives, "num_negatives", 1)
        if negative_sampling not in NEGATIVE_SAMPLING:
            raise ValueError(
                f"`negative_sampling` must be one of {NEGATIVE_SAMPLING}; "
                f"received {negative_sampling!r}."
            )
        if predictor not in PREDICTORS:
            raise ValueError(f"`predictor` must be one of {PREDICTORS}; received {predictor!r}.")
        if score not in SCORES:
            raise ValueError(f"`score` must be one of {SCORES}; received {score!r}.")
        if not entropy_weight >= 0:
            raise ValueError(f"`entropy_weight` must be >= 0; received {entropy_weight}.")
        self.backbone = backbone
        self.prediction_steps = prediction_steps
        self.num_negatives = num_negatives
        self.negative_sampling = negative_sampling
        self.share_negatives = bool(share_negatives)
        if negative_bank_size is not None:
            negative_bank_size = as_int(negative_bank_size, "negative_bank_size", 1)
            if negative_bank_size < num_negatives:
                raise ValueError(
                    "`negative_bank_size` must be None (no bank) or >= "
                    f"num_negatives={num_negatives}; received {negative_bank_size}."
                )
        self.negative_bank_size = negative_bank_size
        self.predictor = predictor
        self.predictor_heads = as_int(predictor_heads, "predictor_heads", 1)
        self.score = score
        self.entropy_weight = float(entropy_weight)
        self.seed = seed
        K = self.prediction_steps
        if accuracy_steps is None:
            accuracy_steps = sorted({1, max(K // 2, 1), K})
        accuracy_steps = list(as_int_tuple(accuracy_steps, "accuracy_steps"))
        if any(not 1 <= k <= K for k in accuracy_steps):
            raise ValueError(f"`accuracy_steps` must lie in [1, {K}]; received {accuracy_steps}.")
        self.accuracy_steps = accuracy_steps
        self.seed_generator = keras.random.SeedGenerator(seed)

        code_dim, context_dim = backbone.encoder_dim, backbone.context_dim
        if predictor == "linear":
            # All W_k in one kernel (context_dim, K * code_dim): one matmul for every step.
            self.predictors = [
                keras.layers.Dense(K * code_dim, use_bias=False, name="predictor_linear")
            ]
            self.predictors[0].build((None, None, context_dim))
        else:
            self.predictors = []
            for k in range(1, K + 1):
                transformer = CausalTransformer(
                    context_dim,
                    num_layers=1,
                    num_heads=self.predictor_heads,
                    name=f"predictor{k}_transformer",
                )
                transformer.build((None, None, context_dim))
                projection = keras.layers.Dense(
                    code_dim, use_bias=False, name=f"predictor{k}_projection"
                )
                projection.build((None, None, context_dim))
                self.predictors.append((transformer, projection))
        self.target_code = self.context_code = None
        if self.entropy_weight > 0:
            self.target_code = StochasticCode(code_dim, seed=seed, name="target_code")
            self.target_code.build((None, None, code_dim))
            self.context_code = StochasticCode(context_dim, seed=seed, name="context_code")
            self.context_code.build((None, None, context_dim))
            self.code_entropy_tracker = keras.metrics.Mean(name="code_entropy")
        self.mi_tracker = MILowerBound(name="mi_lower_bound")
        self.accuracy_trackers = [
            ContrastiveAccuracy(name=f"accuracy_k{k}") for k in self.accuracy_steps
        ]
        self.built = True

    # ---- forward: scores ---------------------------------------------------------------------
    def _predict_future(self, c):
        if self.predictor == "linear":
            # Kept factored: `cpc_scores` scores every frame as c_t (W_k z_m), cheaper than
            # computing p first, and computes p (as 2-D matmuls) where it needs it.
            return LinearPredictions(c, self.predictors[0].kernel, self.prediction_steps)
        outputs = [projection(transformer(c)) for transformer, projection in self.predictors]
        return ops.stack(outputs, axis=2)

    def _bank_size(self):
        """The candidate bank's size, or None for negatives drawn without a bank."""
        if self.share_negatives or self.negative_sampling != "batch":
            return None
        return self.negative_bank_size

    def _sample_negatives(self, frame_lengths, frames):
        return sample_negatives(
            frame_lengths,
            frames,
            self.num_negatives,
            sampling=self.negative_sampling,
            shared=self.share_negatives,
            seed=self.seed_generator,
        )

    def call(self, inputs, training=None):
        """Scores of every (t, k) anchor: ``{"scores", "pair_mask", "candidate_mask", ...}``.

        ``scores`` (batch, frames, K, 1 + num_negatives) float32 with the positive in column
        0 (masked candidates hold -1e9); ``pair_mask`` (batch, frames, K) marks valid (t, k);
        ``candidate_mask`` (batch, frames, K, 1 + num_negatives) marks the real candidates.
        """
        negative_indices = None
        if isinstance(inputs, dict) and "negative_indices" in inputs:
            inputs = dict(inputs)
            negative_indices = inputs.pop("negative_indices")
        outputs = self.backbone.encode(inputs, training=training)
        z, c, frame_mask = outputs["z"], outputs["c"], outputs["frame_mask"]
        frames = z.shape[1]
        if frames is not None and frames < 2:
            raise ValueError(
                "CPC needs clips of at least 2 frames (one context frame and one future "
                f"frame); these clips give {frames} frame(s). Use clips of at least "
                f"{2 * self.backbone.samples_per_frame} samples or so "
                f"(backbone.num_frames(n) >= 2)."
            )
        result = {}
        if self.entropy_weight > 0:
            z, h_z = self.target_code(z, training=training)
            c, h_c = self.context_code(c, training=training)
            result["code_entropy"] = h_z + h_c
        predictions = self._predict_future(c)  # (B, T, K, C)
        # Data parallel: negatives come from the global batch (frames gathered with gradients).
        first_clip, global_frames = distribute.shard_start(ops.shape(z)[0]), None
        if distribute.replicas().count > 1:
            global_frames = (distribute.all_gather(z), distribute.all_gather(frame_mask))
        bank = None
        if negative_indices is None:
            mask = frame_mask if global_frames is None else global_frames[1]
            frame_lengths = ops.sum(ops.cast(mask, "int32"), axis=1)
            bank_size = self._bank_size()
            if bank_size:
                bank, negative_indices = sample_negative_bank(
                    frame_lengths,
                    ops.shape(z)[1],
                    self.num_negatives,
                    bank_size,
                    seed=self.seed_generator,
                )
            else:
                negative_indices = self._sample_negatives(frame_lengths, ops.shape(z)[1])
            if global_frames is not None:
                # One draw for the global batch (the same seed on every replica): our rows.
                size = (ops.shape(z)[0],) + tuple(ops.shape(negative_indices)[1:])
                negative_indices = ops.slice(negative_indices, (first_clip, 0, 0), size)
        result.update(
            cpc_scores(
                predictions,
                z,
                frame_mask,
                negative_indices,
                self.score,
                global_frames,
                first_clip,
                bank,
            )
        )
        return result

    # ---- objective ---------------------------------------------------------------------------
    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        scores, pair_mask = y_pred["scores"], y_pred["pair_mask"]
        num_valid = ops.sum(ops.cast(pair_mask, "int32"))
        if _is_concrete(num_valid) and int(ops.convert_to_numpy(num_valid)) == 0:
            raise ValueError(
                "This batch has no valid (t, k) pair: every clip has at most 1 real frame, so "
                "no future frame can be predicted. Drop or lengthen clips shorter than "
                f"{2 * self.backbone.samples_per_frame} samples or so "
                "(backbone.num_frames(n) must be >= 2)."
            )
        # The loss and every metric below read the same per-pair InfoNCE values. Data
        # parallel: each step divides by the global pair count, so the replicas' InfoNCE
        # values add up to the global batch's; the other terms are local means.
        replicas = distribute.replicas()
        global_sum = distribute.all_sum if replicas.count > 1 else None
        loss, per_pair, weights = cpc_info_nce(scores, pair_mask, sample_weight, global_sum)
        extra_terms = []
        if self.entropy_weight > 0:
            extra_terms.append(self.entropy_weight * y_pred["code_entropy"])
            self.code_entropy_tracker.update_state(y_pred["code_entropy"])

        num_candidates = ops.sum(ops.cast(y_pred["candidate_mask"], "float32"), axis=-1)
        self.mi_tracker.update_state(per_pair, num_candidates, sample_weight=weights)
        columns = ops.shape(scores)[-1]
        for k, tracker in zip(self.accuracy_steps, self.accuracy_trackers):
            logits = ops.reshape(scores[:, :, k - 1], (-1, columns))
            labels = ops.zeros((ops.shape(logits)[0],), dtype="int32")
            tracker.update_state(
                logits, labels, sample_weight=ops.reshape(weights[:, :, k - 1], (-1,))
            )
        # Regularisation losses of the layers (kernel_regularizer, ...), if any.
        extra_terms.extend(ops.cast(extra, "float32") for extra in self.losses)
        for extra in extra_terms:
            loss = loss + (extra / replicas.count if replicas.count > 1 else extra)
        return distribute.replica_loss(loss)

    def compute_metrics(self, x, y, y_pred, sample_weight=None):
        # Ours are updated in `compute_loss`, from the same per-pair values as the loss.
        logs = super().compute_metrics(x, y, y_pred, sample_weight=sample_weight)
        return distribute.step_logs(logs)

    # ---- data-parallel wiring (keras_cpc.distribute) -----------------------------------------
    def compile(self, *args, **kwargs):
        """`keras.Model.compile`, then the engine's data-parallel wiring if a run is active."""
        super().compile(*args, **kwargs)
        distribute.prepare(self, sync_batch_norm=True)

    def _maybe_symbolic_build(self, iterator=None, data_batch=None):
        # Only the TF trainer calls this. Under a strategy its own version builds from a
        # first batch averaged over the replicas, which fails on a boolean padding mask
        # ("AddN bool"); ours builds from the first replica's batch.
        if not distribute.symbolic_build(self, iterator, data_batch):
            super()._maybe_symbolic_build(iterator=iterator, data_batch=data_batch)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "backbone": keras.saving.serialize_keras_object(self.backbone),
                "prediction_steps": self.prediction_steps,
                "num_negatives": self.num_negatives,
                "negative_sampling": self.negative_sampling,
                "share_negatives": self.share_negatives,
                "negative_bank_size": self.negative_bank_size,
                "predictor": self.predictor,
                "predictor_heads": self.predictor_heads,
                "score": self.score,
                "entropy_weight": self.entropy_weight,
                "accuracy_steps": list(self.accuracy_steps),
                "seed": self.seed,
            }
        )
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["backbone"] = keras.saving.deserialize_keras_object(config["backbone"])
        return cls(**config)
