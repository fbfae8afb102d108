"""Plain PyTorch peers of keras_cpc's SimCLR and CPC steps (benchmarks/peers.py).

The same networks written as a PyTorch user would: ``nn.Conv2d`` / ``nn.BatchNorm2d`` in NCHW
(and the same model in ``torch.channels_last``), ``nn.Conv1d`` + ``nn.GRU`` for CPC,
``torch.optim.SGD`` with momentum, ``torch.autocast`` for ``mixed_bfloat16``. Weights come
from the keras_cpc model (Keras layouts, see peers_keras.export_weights).

Example:
    >>> steps = simclr_steps(weights, 0.25, 2, views, "float32")  # {"torch NCHW": step, ...}
"""

import contextlib

import numpy as np
import peers_common as common
import torch
from torch import nn

BN = dict(momentum=1 - common.BN_MOMENTUM, eps=common.BN_EPSILON)  # torch's momentum is 1 - decay


def info():
    return {"torch": torch.__version__, "torch_threads": torch.get_num_threads()}


def _set(parameter, array):
    with torch.no_grad():
        parameter.copy_(torch.from_numpy(np.ascontiguousarray(array)))


def _load_bn(bn, weights, name):
    _set(bn.weight, weights[f"{name}/gamma"])
    if f"{name}/beta" in weights:
        _set(bn.bias, weights[f"{name}/beta"])
    else:  # the head's last BN has no beta: keep it at zero, frozen
        nn.init.zeros_(bn.bias)
        bn.bias.requires_grad_(False)
    _set(bn.running_mean, weights[f"{name}/moving_mean"])
    _set(bn.running_var, weights[f"{name}/moving_variance"])


def _conv(weights, name, cin, cout, size, stride):
    conv = nn.Conv2d(cin, cout, size, stride, padding=size // 2, bias=False)
    _set(conv.weight, weights[f"{name}/kernel"].transpose(3, 2, 0, 1))
    return conv


def _bn(weights, name, channels):
    bn = nn.BatchNorm2d(channels, **BN)
    _load_bn(bn, weights, name)
    return bn


class BasicBlock(nn.Module):
    def __init__(self, weights, spec):
        super().__init__()
        name, cin, cout, stride = spec["name"], spec["in"], spec["out"], spec["stride"]
        self.shortcut = nn.Identity()
        if spec["projection"]:
            self.shortcut = nn.Sequential(
                _conv(weights, f"{name}_shortcut_conv", cin, cout, 1, stride),
                _bn(weights, f"{name}_shortcut_bn", cout),
            )
        self.conv1 = _conv(weights, f"{name}_conv1", cin, cout, 3, stride)
        self.bn1 = _bn(weights, f"{name}_bn1", cout)
        self.conv2 = _conv(weights, f"{name}_conv2", cout, cout, 3, 1)
        self.bn2 = _bn(weights, f"{name}_bn2", cout)

    def forward(self, x):
        y = torch.relu(self.bn1(self.conv1(x)))
        return torch.relu(self.bn2(self.conv2(y)) + self.shortcut(x))


class SimCLRNet(nn.Module):
    """ResNet-18 (CIFAR stem) + projection head of keras_cpc, in NCHW."""

    def __init__(self, weights, width, head_layers):
        super().__init__()
        stem = common.stem_channels(width)
        self.stem = nn.Sequential(
            _conv(weights, "stem_conv", 3, stem, 3, 1), _bn(weights, "stem_bn", stem), nn.ReLU()
        )
        blocks = common.resnet18_blocks(width)
        self.blocks = nn.Sequential(*[BasicBlock(weights, spec) for spec in blocks])
        head = []
        for index in range(head_layers):
            kernel = weights[f"projection_head/dense_{index}/kernel"]
            dense = nn.Linear(kernel.shape[0], kernel.shape[1], bias=False)
            _set(dense.weight, kernel.T)
            bn = nn.BatchNorm1d(kernel.shape[1], **BN)
            _load_bn(bn, weights, f"projection_head/batch_norm_{index}")
            head += [dense, bn] + ([nn.ReLU()] if index < head_layers - 1 else [])
        self.head = nn.Sequential(*head)

    def forward(self, x):
        return self.head(self.blocks(self.stem(x)).mean(dim=(2, 3)))


def nt_xent(z):
    z = z.float()
    z = z * torch.rsqrt(torch.clamp((z * z).sum(-1, keepdim=True), min=1e-24))
    logits = z @ z.T / common.TEMPERATURE
    two_n = logits.shape[0]
    logits = logits - 1e9 * torch.eye(two_n)
    index = torch.arange(two_n)
    labels = torch.where(index < two_n // 2, index + two_n // 2, index - two_n // 2)
    return nn.functional.cross_entropy(logits, labels)


def _autocast(policy):
    if common.is_mixed(policy):
        return torch.autocast("cpu", dtype=torch.bfloat16)
    return contextlib.nullcontext()


def _train_step(model, loss_of, policy):
    optimizer = torch.optim.SGD(
        [p for p in model.parameters() if p.requires_grad],
        lr=common.LEARNING_RATE,
        momentum=common.MOMENTUM,
    )
    model.train()

    def step(*args):
        optimizer.zero_grad(set_to_none=True)
        with _autocast(policy):
            loss = loss_of(*args)
        loss.backward()
        optimizer.step()
        return float(loss.detach())

    return step


def simclr_steps(weights, width, head_layers, views, policy, compiled=True):
    """``{"torch NCHW": step, "torch channels_last": step}``; ``step()`` returns the loss.

    ``compiled`` is ignored: these steps run eagerly, as PyTorch users write them.
    """
    images = torch.from_numpy(np.concatenate(views)).permute(0, 3, 1, 2)
    steps = {}
    for name, memory_format in (
        ("torch NCHW", torch.contiguous_format),
        ("torch channels_last", torch.channels_last),
    ):
        model = SimCLRNet(weights, width, head_layers).to(memory_format=memory_format)
        data = images.contiguous(memory_format=memory_format)

        def loss_of(model=model, data=data):
            return nt_xent(model(data.float() * (1.0 / 255.0)))

        steps[name] = _train_step(model, loss_of, policy)
    return steps


class ChannelNorm(nn.Module):
    def __init__(self, weights, name):
        super().__init__()
        self.gamma = nn.Parameter(torch.from_numpy(weights[f"{name}/gamma"].copy()))
        self.beta = nn.Parameter(torch.from_numpy(weights[f"{name}/beta"].copy()))

    def forward(self, x):  # (B, C, T): statistics over C, unbiased variance
        mean = x.mean(dim=1, keepdim=True)
        var = x.var(dim=1, keepdim=True, unbiased=True)
        y = (x - mean) * torch.rsqrt(var + common.CHANNEL_NORM_EPSILON)
        return y * self.gamma[:, None] + self.beta[:, None]


class CPCNet(nn.Module):
    """CPC encoder (Conv1d stack), GRU context and linear predictor of keras_cpc."""

    def __init__(self, weights, config, prediction_steps):
        super().__init__()
        layers, cin = [], 1
        paddings = common.cpc_paddings(config["kernel_sizes"], config["strides"])
        dim = config["encoder_dim"]
        for i, (k, s, p) in enumerate(zip(config["kernel_sizes"], config["strides"], paddings)):
            conv = nn.Conv1d(cin, dim, k, s, padding=p)
            _set(conv.weight, weights[f"encoder/conv{i}/kernel"].transpose(2, 1, 0))
            _set(conv.bias, weights[f"encoder/conv{i}/bias"])
            layers.append(conv)
            if config["normalization"] == "channel":
                layers.append(ChannelNorm(weights, f"encoder/norm{i}"))
            layers.append(nn.ReLU())
            cin = dim
        self.encoder = nn.Sequential(*layers)
        units = config["context_dim"]
        self.gru = nn.GRU(dim, units, batch_first=True)
        # Keras gates are [z, r, h], torch's [r, z, n]; Keras' reset_after GRU is torch's GRU.
        order = np.concatenate(
            [np.arange(units, 2 * units), np.arange(units), np.arange(2 * units, 3 * units)]
        )
        gru = "context0/gru_cell"
        _set(self.gru.weight_ih_l0, weights[f"{gru}/kernel"][:, order].T)
        _set(self.gru.weight_hh_l0, weights[f"{gru}/recurrent_kernel"][:, order].T)
        _set(self.gru.bias_ih_l0, weights[f"{gru}/bias"][0, order])
        _set(self.gru.bias_hh_l0, weights[f"{gru}/bias"][1, order])
        kernel = weights["predictor_linear/kernel"]
        self.predictor = nn.Linear(kernel.shape[0], kernel.shape[1], bias=False)
        _set(self.predictor.weight, kernel.T)
        self.prediction_steps, self.code_dim = prediction_steps, dim

    def forward(self, waveform):
        z = self.encoder(waveform[:, None, :]).transpose(1, 2)  # (B, T, C)
        c, _ = self.gru(z)
        batch, frames = z.shape[:2]
        p = self.predictor(c).reshape(batch, frames, self.prediction_steps, self.code_dim)
        return z, p


def cpc_loss(z, p, indices, dense):
    """CPC's InfoNCE with per-anchor negatives ``indices`` (B, T, N) into the B*T frames."""
    z, p = z.float(), p.float()
    batch, frames, K, dim = p.shape
    positives = torch.stack([nn.functional.pad(z[:, k:], (0, 0, 0, k)) for k in range(1, K + 1)], 2)
    positive = (p * positives).sum(-1, keepdim=True)  # (B, T, K, 1)
    flat = z.reshape(-1, dim)
    if dense:  # every prediction against every frame, then the negatives' columns
        scores = torch.einsum("btkc,mc->btkm", p, flat)
        negative = torch.gather(scores, 3, indices[:, :, None, :].expand(-1, -1, K, -1))
    else:  # gather the negatives' codes (B, T, N, C) and score them
        negative = torch.einsum("btkc,btnc->btkn", p, flat[indices])
    t = torch.arange(frames)[:, None]
    future = t + torch.arange(1, K + 1)[None, :]  # (T, K)
    owner = torch.arange(batch)[:, None, None] * frames
    target = owner + torch.clamp(future, max=frames - 1)[None]  # the positive's flat index
    negative = negative.masked_fill(
        indices[:, :, None, :] == target[..., None], common.MASKED_SCORE
    )
    scores = torch.cat([positive, negative], -1)
    per_pair = torch.logsumexp(scores, -1) - scores[..., 0]  # (B, T, K)
    valid = (future < frames).float()[None].expand(batch, -1, -1)
    return ((per_pair * valid).sum((0, 1)) / valid.sum((0, 1)).clamp(min=1)).sum()


def cpc_steps(
    weights, config, prediction_steps, num_negatives, waveform, policy, scorings, compiled=True
):
    """``{"torch (<scoring>)": step}``; ``step(indices=None)`` draws negatives unless given."""
    data = torch.from_numpy(waveform)
    shape = (waveform.shape[0], common.cpc_frames(waveform.shape[1], config), num_negatives)
    steps = {}
    for scoring in scorings:
        model = CPCNet(weights, config, prediction_steps)

        def loss_of(indices, model=model, dense=scoring == "dense"):
            z, p = model(data)
            return cpc_loss(z, p, indices, dense)

        train = _train_step(model, loss_of, policy)

        def step(indices=None, train=train):
            if indices is None:
                indices = torch.randint(0, shape[0] * shape[1], shape)
            else:
                indices = torch.from_numpy(indices).long()
            return train(indices)

        steps[f"torch ({scoring})"] = step
    return steps
