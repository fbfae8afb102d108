"""torch.distributed wiring under ``torchrun``: one process per rank (gloo on CPU, nccl on GPU).

Keras' torch trainer knows nothing of other ranks, so `prepare` does what
DistributedDataParallel would: every variable is broadcast from rank 0 once, and the
gradients are summed over the ranks (one all-reduce of a flat buffer) before the optimizer
applies them. Each rank returns its share of the global loss (`replica_loss`), so the summed
gradient is the global loss's gradient; the value it reports is the global loss.
"""

import functools
import os
import warnings

import keras
import torch
import torch.distributed as dist
from torch.distributed.nn import functional as autograd_collectives

# Each rank feeds its own rows of the global batch (`keras_cpc.distribute.ShardedBatches`).
SPLITS_GLOBAL_BATCH = False
# Golden-ratio step between the ranks' augmentation seeds (torch seeds with 32 bits).
_SEED_STEP = 0x9E3779B9


def _active():
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def replicas():
    if not _active():
        return 1, 0
    return dist.get_world_size(), dist.get_rank()


class _ContiguousGradient(torch.autograd.Function):
    """Identity whose backward makes the gradient contiguous.

    torch's all_gather backward sends the upstream gradients as they are; on gloo a
    non-contiguous one (an einsum's transposed gradient, say) arrives with its rows
    scrambled (measured on torch 2.13: CPC encoder gradients off by 100%).
    """

    @staticmethod
    def forward(ctx, x):
        return x.view_as(x)

    @staticmethod
    def backward(ctx, gradient):
        return gradient.contiguous()


def all_gather(x):
    if torch.is_floating_point(x):
        # Differentiable: its backward sends each rank the gradients of its own rows.
        with warnings.catch_warnings():
            # 2.13 deprecates it for a private module (_functional_collectives); it still works.
            warnings.simplefilter("ignore", FutureWarning)
            parts = autograd_collectives.all_gather(x.contiguous())
        return torch.cat([_ContiguousGradient.apply(part) for part in parts], dim=0)
    # Masks and indices carry no gradient; gloo has no bool collective.
    y = x.to(torch.int32).contiguous()
    parts = [torch.empty_like(y) for _ in range(dist.get_world_size())]
    dist.all_gather(parts, y)
    return torch.cat(parts, dim=0).to(x.dtype)


def all_sum(x):
    total = x.detach().clone()
    dist.all_reduce(total)
    return total


def check_equal_shards(rows, count):
    sizes = all_gather(keras.ops.convert_to_tensor([int(rows)], "int32")).tolist()
    if len(set(sizes)) > 1:
        raise ValueError(
            f"The global batch of {sum(sizes)} examples does not divide over {count} ranks "
            f"(rank batches {sizes}); give every rank the same number of rows "
            "(keras_cpc.distribute.ShardedBatches of full global batches)."
        )


def replica_loss(share):
    # Reported value: the global loss; gradient: this rank's share (summed over ranks).
    return share + (all_sum(share) - share.detach())


def step_logs(logs):
    # Each rank's metrics read its own anchors: report the mean over the ranks (exact for
    # equal counts; the loss is already global). One all-reduce of a few scalars per step.
    keys = sorted(logs)
    values = torch.stack([torch.as_tensor(logs[key]).float().reshape(()) for key in keys])
    dist.all_reduce(values)
    return dict(zip(keys, values / dist.get_world_size(), strict=True))


class _RankSeed(keras.random.SeedGenerator):
    """Draws from ``base``'s state shifted by the rank: a different stream on every rank.

    A view: it owns no state variable (no ``super().__init__``), so checkpoints are unchanged.
    """

    def __init__(self, base, rank):  # no super().__init__: no new variable
        self.base, self.rank = base, rank

    def next(self, ordered=True):
        seed = self.base.next(ordered=ordered)
        shift = (self.rank * _SEED_STEP) % 2**31
        return seed + torch.tensor([shift, 0], dtype=seed.dtype, device=seed.device)


def replica_seed(seed_generator):
    return _RankSeed(seed_generator, dist.get_rank())


def _summed_gradients(gradients, variables):
    # One all-reduce of a flat buffer (a variable without gradient contributes zeros).
    grads = [
        torch.zeros_like(v.value) if g is None else g
        for g, v in zip(gradients, variables, strict=True)
    ]
    flat = torch.cat([g.reshape(-1) for g in grads])
    dist.all_reduce(flat)
    sizes = [g.numel() for g in grads]
    return [part.view_as(g) for part, g in zip(torch.split(flat, sizes), grads, strict=True)]


def _synced_moments(layer, unsynced, inputs, mask):
    # Global batch statistics: sums over every rank's rows (all_reduce with gradient).
    if mask is not None:
        return unsynced(inputs, mask)
    x = inputs.float()
    axes = tuple(layer._reduction_axes)
    local = torch.cat(
        [
            torch.sum(x, dim=axes).reshape(-1),
            torch.sum(x * x, dim=axes).reshape(-1),
            torch.tensor([x.numel() / x.shape[layer.axis]], device=x.device),
        ]
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # deprecated in 2.13, still works
        total = autograd_collectives.all_reduce(local)
    channels = x.shape[layer.axis]
    count = total[-1]
    mean = total[:channels] / count
    variance = torch.clamp(total[channels : 2 * channels] / count - mean * mean, min=0.0)
    return mean.to(inputs.dtype), variance.to(inputs.dtype)


def prepare(model, sync_batch_norm):
    if not _active():
        return
    with torch.no_grad():
        for variable in model.variables:  # weights, batch-norm statistics, seed states
            dist.broadcast(variable.value.data, src=0)
    optimizer = model.optimizer
    if optimizer is not None and not getattr(optimizer, "_sums_over_ranks", False):
        apply = optimizer.apply

        def apply_summed(gradients, trainable_variables=None):
            variables = trainable_variables or model.trainable_variables
            return apply(_summed_gradients(gradients, variables), trainable_variables)

        optimizer.apply = apply_summed
        optimizer._sums_over_ranks = True
    if sync_batch_norm:
        for layer in model._flatten_layers(include_self=False, recursive=True):
            if isinstance(layer, keras.layers.BatchNormalization) and not hasattr(
                layer, "_unsynced_moments"
            ):
                layer._unsynced_moments = layer._moments
                layer._moments = functools.partial(_synced_moments, layer, layer._moments)


def symbolic_build(model, iterator=None, data_batch=None):
    return False  # only Keras' TF trainer builds from a distributed batch


def process_count():
    if dist.is_available() and dist.is_initialized():
        return dist.get_world_size()
    return int(os.environ.get("WORLD_SIZE", "1"))


def process_index():
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank()
    return int(os.environ.get("RANK", "0"))


def start():
    # torchrun sets RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR and MASTER_PORT.
    if not dist.is_initialized() and int(os.environ.get("WORLD_SIZE", "1")) > 1:
        if torch.cuda.is_available():
            torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
        dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
    if not dist.is_initialized():
        return "torch: 1 process (not launched by torchrun)"
    return f"torch.distributed ({dist.get_backend()}): {dist.get_world_size()} ranks"


def per_process_batch(global_batch):
    ranks = process_count()
    if global_batch % ranks:
        raise ValueError(
            f"The global batch of {global_batch} examples does not divide over {ranks} "
            f"ranks; use a multiple of {ranks}."
        )
    return global_batch // ranks
