"""One trainer for proxy and target models, airbench-style.

The data lives as one uint8 tensor on the device when it fits (DeviceData), else it is
streamed from the memory-mapped store (StreamData); either way batches are indexed from
a permutation seeded by (seed, epoch), so an epoch can be replayed after a resume
without saving any RNG state, and the two give the same batches. Augmentation is
batched on the device.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .errors import InputError
from .models import LARGE_IMAGE
from .optim import SGD
from .settings import TrainSettings

log = logging.getLogger(__name__)


def resolve_device(requested: str = "auto") -> torch.device:
    """`auto` is CUDA when a device is really usable, else the CPU (with one log line if a GPU was promised).

    Also selects deterministic kernels, so a seed fixes the result on a given machine.
    """
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")  # deterministic cuBLAS needs it before first use
    # what torch.use_deterministic_algorithms(True, warn_only=True) sets, without its first step: it imports
    # torch._inductor (and torch._dynamo, about a second in every training process) to set a flag for
    # compiled code, and nothing here compiles
    torch._C._set_deterministic_algorithms(True, warn_only=True)
    torch.backends.cudnn.benchmark = False
    if requested == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if os.environ.get("CUDA_VISIBLE_DEVICES", "") not in ("", "-1"):
            log.warning("CUDA_VISIBLE_DEVICES=%s but CUDA is not usable here; running on the CPU",
                        os.environ["CUDA_VISIBLE_DEVICES"])
        return torch.device("cpu")
    device = torch.device(requested)
    if device.type == "cuda" and (not torch.cuda.is_available() or (device.index or 0) >= torch.cuda.device_count()):
        raise InputError(f"device {requested!r} was requested but is not available here (use 'auto' or 'cpu')")
    return device


class DeviceData:
    """A dataset slice held as uint8 NCHW on the device, normalised batch by batch.

    crop_size: the side models see (evaluation takes a center crop); None is the stored side.
    """

    def __init__(self, images: np.ndarray, labels: np.ndarray, mean, std, device: torch.device,
                 crop_size: int | None = None):
        if not (images.flags.writeable and images.flags.c_contiguous):  # memory-mapped: torch wants its own copy
            images = np.array(images)
        self.images = torch.from_numpy(images).permute(0, 3, 1, 2).contiguous().to(device)
        self.labels = torch.tensor(np.asarray(labels), dtype=torch.int64, device=device)
        self.mean = torch.tensor(mean, device=device).view(1, -1, 1, 1) * 255
        self.std = torch.tensor(std, device=device).view(1, -1, 1, 1) * 255
        self.device = device
        self.crop_size = crop_size or images.shape[1]

    def __len__(self) -> int:
        return len(self.labels)

    def batch(self, rows: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = (self.images[rows].float() - self.mean) / self.std
        return x, self.labels[rows]

    def batches(self, order: torch.Tensor,
                batch_size: int) -> Iterator[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
        """(rows, normalised images, labels) of each run of `batch_size` positions of `order`."""
        for start in range(0, len(order), batch_size):
            rows = order[start:start + batch_size]
            yield rows, *self.batch(rows)


class StreamData:
    """A dataset slice left in the memory-mapped store and gathered batch by batch.

    `threads` background threads copy each batch's rows (in the permutation's order) into one
    of `depth` host buffers, pinned on CUDA, which are copied to the device asynchronously.
    Rows of a .npy store are read with pread, one call per image and no read-ahead, so the
    process maps none of the store and host memory stays at `depth` batches whatever the
    dataset's size; other arrays are indexed. The normalised batches equal DeviceData's, so
    both give the same training.
    """

    def __init__(self, images: np.ndarray, index: np.ndarray, labels: np.ndarray, mean, std, device: torch.device,
                 crop_size: int | None = None, threads: int = 2, depth: int = 4):
        self.images, self.index = images, np.asarray(index, dtype=np.int64)
        self.labels = torch.tensor(np.asarray(labels), dtype=torch.int64, device=device)
        self.mean = torch.tensor(mean, device=device).view(1, -1, 1, 1) * 255
        self.std = torch.tensor(std, device=device).view(1, -1, 1, 1) * 255
        self.device, self.threads, self.depth = device, threads, depth
        self.crop_size = crop_size or images.shape[1]

    def __len__(self) -> int:
        return len(self.labels)

    def _file(self) -> tuple[str, int] | None:
        """(path, byte offset of row 0) when the images are a whole .npy file, memory-mapped."""
        path, offset = getattr(self.images, "filename", None), getattr(self.images, "offset", None)
        if path and offset is not None and self.images.flags.c_contiguous and \
                os.path.getsize(path) == offset + self.images.nbytes:
            return path, offset
        return None

    def raw_batches(self, order: torch.Tensor, batch_size: int) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """(rows, uint8 NHWC images on the device) of each run of `batch_size` positions of `order`."""
        positions = order.cpu().numpy()
        source = self._file()
        row_bytes = int(np.prod(self.images.shape[1:]))
        starts = range(0, len(positions), batch_size)
        pinned = self.device.type == "cuda"
        shape = (min(batch_size, len(positions)), *self.images.shape[1:])
        copied: list = [None] * self.depth  # CUDA events: a buffer is refilled only once its copy is done
        fd = None

        def gather(i: int) -> torch.Tensor:
            slot = i % self.depth
            if copied[slot] is not None:
                copied[slot].synchronize()
            rows = self.index[positions[starts[i]:starts[i] + batch_size]]
            out = buffers[slot][:len(rows)]
            if fd is None:
                np.take(self.images, rows, axis=0, out=out.numpy())  # numpy copies without holding the GIL
                return out
            view = memoryview(out.numpy().reshape(-1))
            for j, row in enumerate(rows):  # pread releases the GIL; _file checked the size, so no short read
                os.preadv(fd, [view[j * row_bytes:(j + 1) * row_bytes]], source[1] + int(row) * row_bytes)
            return out

        pool = ThreadPoolExecutor(self.threads, thread_name_prefix="stream")
        try:  # everything that can fail is inside: the descriptor and the threads are always released
            if source:
                fd = os.open(source[0], os.O_RDONLY)
                if hasattr(os, "posix_fadvise"):
                    os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_RANDOM)  # random rows: read-ahead only wastes reads
            buffers = [torch.empty(shape, dtype=torch.uint8, pin_memory=pinned) for _ in range(self.depth)]
            pending = deque(pool.submit(gather, i) for i in range(min(self.depth, len(starts))))
            for i, start in enumerate(starts):
                host = pending.popleft().result()
                if pinned:
                    x = host.to(self.device, non_blocking=True)
                    copied[i % self.depth] = torch.cuda.Event()
                    copied[i % self.depth].record()
                else:
                    x = host.to(self.device, copy=True)  # the buffer is free again from here on
                if i + self.depth < len(starts):
                    pending.append(pool.submit(gather, i + self.depth))
                yield order[start:start + batch_size], x
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
            if fd is not None:
                os.close(fd)

    def batches(self, order: torch.Tensor,
                batch_size: int) -> Iterator[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
        """(rows, normalised NCHW images, labels) of each run of `batch_size` positions of `order`."""
        with contextlib.closing(self.raw_batches(order, batch_size)) as raw:
            for rows, x in raw:
                x = x.permute(0, 3, 1, 2).contiguous()
                yield rows, (x.float() - self.mean) / self.std, self.labels[rows]


Data = DeviceData | StreamData


def _host_memory_available() -> int:
    """Bytes this process may still use: the host's available memory, or less under a cgroup limit (SLURM)."""
    available = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    with contextlib.suppress(OSError, ValueError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                available = int(line.split()[1]) * 1024
    with contextlib.suppress(OSError):
        for line in Path("/proc/self/cgroup").read_text().splitlines():
            _, controllers, group = line.split(":", 2)
            if controllers == "":  # cgroup v2
                folder, limit, usage = Path("/sys/fs/cgroup") / group.lstrip("/"), "memory.max", "memory.current"
            elif "memory" in controllers.split(","):  # cgroup v1
                folder = Path("/sys/fs/cgroup/memory") / group.lstrip("/")
                limit, usage = "memory.limit_in_bytes", "memory.usage_in_bytes"
            else:
                continue
            with contextlib.suppress(OSError, ValueError):
                available = min(available, int((folder / limit).read_text()) - int((folder / usage).read_text()))
    return available


def load_data(images: np.ndarray, index: np.ndarray, labels: np.ndarray, mean, std, device: torch.device,
              crop_size: int | None = None, mode: str = "auto") -> Data:
    """The rows `index` of `images` for training or evaluation: held on the device (`memory`), or streamed from
    the (memory-mapped) array (`stream`); `auto` streams when they would take more than a third of the device's
    free memory (the host's, on the CPU)."""
    size = len(index) * int(np.prod(images.shape[1:]))
    why = "data: stream"
    if mode == "auto":
        free = torch.cuda.mem_get_info(device)[0] if device.type == "cuda" else _host_memory_available()
        mode = "memory" if size <= free // 3 else "stream"
        why = f"more than a third of the {free / 1e9:.1f} GB free on {device}"
    if mode == "stream":
        log.info("streaming %d images (%.2f GB) from the store (%s)", len(index), size / 1e9, why)
        return StreamData(images, index, labels, mean, std, device, crop_size)
    return DeviceData(images[index], labels, mean, std, device, crop_size)


def center_crop(x: torch.Tensor, size: int) -> torch.Tensor:
    h, w = x.shape[-2:]
    if h == w == size:
        return x
    top, left = (h - size) // 2, (w - size) // 2
    return x[..., top:top + size, left:left + size]


def resized_crop_batch(x: torch.Tensor, size: int, generator: torch.Generator, scale=(0.08, 1.0),
                       ratio=(3 / 4, 4 / 3)) -> torch.Tensor:
    """Random-resized crop (a share `scale` of the area, aspect ratio in `ratio`, kept inside the image) to
    size x size, and random horizontal flip: ImageNet's training augmentation, one affine grid per image."""
    n = x.shape[0]
    draws = torch.rand(5, n, generator=generator, device=generator.device).to(x.device)
    area = scale[0] + (scale[1] - scale[0]) * draws[0]
    aspect = torch.exp(math.log(ratio[0]) + (math.log(ratio[1]) - math.log(ratio[0])) * draws[1])
    width, height = (area * aspect).sqrt().clamp(max=1), (area / aspect).sqrt().clamp(max=1)  # halves, in [-1, 1]
    theta = torch.zeros(n, 2, 3, device=x.device, dtype=x.dtype)
    theta[:, 0, 0] = torch.where(draws[4] < 0.5, -width, width)  # a negative scale flips
    theta[:, 0, 2] = (1 - width) * (2 * draws[2] - 1)
    theta[:, 1, 1] = height
    theta[:, 1, 2] = (1 - height) * (2 * draws[3] - 1)
    grid = F.affine_grid(theta, [n, x.shape[1], size, size], align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)


def autocast(precision: str, device: torch.device):
    """bf16 autocast on CUDA when asked; fp32 everywhere else (always on the CPU)."""
    return torch.autocast(device.type, dtype=torch.bfloat16, enabled=_fast(precision, device))


def _fast(precision: str, device: torch.device) -> bool:
    return precision == "bf16" and device.type == "cuda"


def augment_batch(x: torch.Tensor, generator: torch.Generator, pad: int = 4) -> torch.Tensor:
    """Random translation by up to `pad` pixels (reflect padding) and random horizontal flip, batched.

    Each view is read from the padded batch with one gather (the flip folded into its column indices):
    one op per batch, where a masked copy per (shift, flip) took 81 on CIFAR, each a kernel launch on a GPU.
    """
    n, c, h, w = x.shape
    flip = torch.rand(n, generator=generator, device=generator.device).to(x.device) < 0.5
    shifts = torch.randint(0, 2 * pad + 1, (2, n), generator=generator, device=generator.device).to(x.device)
    padded = F.pad(x, (pad, pad, pad, pad), mode="reflect")
    width = w + 2 * pad
    rows = shifts[0].view(n, 1, 1) + torch.arange(h, device=x.device).view(1, h, 1)
    cols = shifts[1].view(n, 1, 1) + torch.arange(w, device=x.device).view(1, 1, w)
    cols = torch.where(flip.view(n, 1, 1), width - 1 - cols, cols)  # reflect padding commutes with the flip
    index = (rows * width + cols).view(n, 1, h * w).expand(n, c, h * w)
    return padded.flatten(2).gather(2, index).view(n, c, h, w)


def per_sample_signals(logits: torch.Tensor, labels: torch.Tensor,
                       loss: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
    """Loss, true-class probability, logit margin (z_y - max_{k!=y} z_k) and correctness, per sample."""
    logits = logits.detach().float()
    log_probs = torch.log_softmax(logits, dim=1)
    true_log_prob = log_probs.gather(1, labels[:, None]).squeeze(1)
    true_logit = logits.gather(1, labels[:, None]).squeeze(1)
    other = logits.scatter(1, labels[:, None], float("-inf")).amax(dim=1)
    return {
        "loss": -true_log_prob if loss is None else loss.detach().float(),
        "p_true": true_log_prob.exp(),
        "margin": true_logit - other,
        "correct": (logits.argmax(dim=1) == labels).to(torch.int8),
    }


def stream_seed(seed: int, stream: str) -> int:
    """An independent seed per purpose, so proxy and target runs of one seed share no random stream."""
    return int(np.random.SeedSequence([seed, *stream.encode()]).generate_state(1)[0])


def epoch_generator(seed: int, epoch: int, device: torch.device) -> torch.Generator:
    generator = torch.Generator(device=device)
    generator.manual_seed(int(np.random.SeedSequence([seed, epoch]).generate_state(1)[0]))
    return generator


@dataclass
class Trainer:
    """SGD with a per-step schedule over a fixed epoch or step budget."""

    model: nn.Module
    settings: TrainSettings
    n_train: int
    seed: int
    optimizer: SGD = field(init=False)
    step: int = 0

    def __post_init__(self):
        s = self.settings
        # weight decay on every parameter, BatchNorm and biases included, as DeepCore and CLD train
        self.optimizer = SGD(self.model.parameters(), momentum=s.momentum, weight_decay=s.weight_decay,
                             nesterov=s.nesterov)
        self.total_steps = s.total_steps(self.n_train)
        self.steps_per_epoch = math.ceil(self.n_train / s.batch_size)

    def _lr_factor(self, step: int) -> float:
        s = self.settings
        if s.schedule == "cosine":
            return 0.5 * (1 + math.cos(math.pi * min(step, self.total_steps) / self.total_steps))
        if s.schedule == "multistep":
            return s.gamma ** sum(step >= m * self.steps_per_epoch for m in s.milestones)
        return 1.0

    def train_epoch(self, data: DeviceData, epoch: int, weights: torch.Tensor | None = None,
                    on_batch: Callable[[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor], None] | None = None,
                    ) -> int:
        """One pass over a seeded permutation of `data`; stops early when the step budget is spent.

        on_batch(rows, logits, labels, loss) sees every batch's outputs (for in-training logging).
        Returns the number of steps taken.
        """
        self.model.train()
        if _fast(self.settings.precision, data.device):
            self.model.to(memory_format=torch.channels_last)
        generator = epoch_generator(self.seed, epoch, data.device)
        order = torch.randperm(len(data), generator=generator, device=data.device)
        # dropout (VGG's classifier) draws from the global generator: seed it per epoch too, so a resume replays it
        with torch.random.fork_rng(devices=[data.device] if data.device.type == "cuda" else []):
            torch.manual_seed(int(np.random.SeedSequence([self.seed, epoch, 1]).generate_state(1)[0]))
            return self._train_batches(data, order, generator, weights, on_batch)

    def _view(self, x: torch.Tensor, crop: int, generator: torch.Generator) -> torch.Tensor:
        """The training view: ImageNet-style data (crops of LARGE_IMAGE px and up) gets random-resized crops and
        flips, smaller images CIFAR's translation and flip; without augmentation, the center crop."""
        if not self.settings.augment:
            return center_crop(x, crop)
        if crop >= LARGE_IMAGE:
            return resized_crop_batch(x, crop, generator)
        return center_crop(augment_batch(x, generator), crop)

    def _train_batches(self, data, order, generator, weights, on_batch) -> int:
        taken = 0
        fast = _fast(self.settings.precision, data.device)
        with contextlib.closing(data.batches(order, self.settings.batch_size)) as batches:
            for rows, x, y in batches:
                if self.step >= self.total_steps:
                    break
                x = self._view(x, data.crop_size, generator)
                if fast:
                    x = x.contiguous(memory_format=torch.channels_last)
                with autocast(self.settings.precision, data.device):
                    logits = self.model(x)
                loss = F.cross_entropy(logits.float(), y, reduction="none")
                if weights is None:
                    objective = loss.mean()
                else:
                    w = weights[rows]
                    objective = (w * loss).sum() / w.sum()
                self.optimizer.zero_grad()
                objective.backward()
                self.optimizer.step(lr=self.settings.lr * self._lr_factor(self.step))
                self.step += 1
                taken += 1
                if on_batch is not None:
                    on_batch(rows, logits, y, loss)
        return taken

    def state_dict(self) -> dict:
        return {"model": self.model.state_dict(), "optimizer": self.optimizer.state_dict(), "step": self.step}

    def load_state_dict(self, state: dict) -> None:
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.step = int(state["step"])


@torch.inference_mode()
def predict(model: nn.Module, data: Data, batch_size: int = 1024, embeddings: bool = False,
            precision: str = "fp32") -> tuple[torch.Tensor, torch.Tensor | None]:
    """Eval-mode logits (and penultimate embeddings) for every sample of `data`, in order, on center crops."""
    model.eval()
    fast = _fast(precision, data.device)
    logits, feats = [], []
    with contextlib.closing(data.batches(torch.arange(len(data), device=data.device), batch_size)) as batches:
        for _, x, _ in batches:
            x = center_crop(x, data.crop_size)
            if fast:
                x = x.contiguous(memory_format=torch.channels_last)
            with autocast(precision, data.device):
                h = model.features(x)
                logits.append(model.head(h).float())
            if embeddings:
                feats.append(h.float())
    return torch.cat(logits), (torch.cat(feats) if embeddings else None)
