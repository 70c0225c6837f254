"""Training-time augmentation of in-memory images, batched on the training device: random crop with zero padding
and horizontal flip, as torchvision's `RandomCrop(size, padding)` + `RandomHorizontalFlip()` do per image.

The random draws of an epoch are made at once on the CPU from the epoch's seeded generator (after the data
order), then moved to the device: the augmented batches are a pure function of (seed, epoch), so a resumed run
sees exactly the batches an uninterrupted one would. Applying them is one gather per batch, no per-image loop.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F


@dataclass(frozen=True)
class Augment:
    crop_padding: int = 0  # pixels of zero padding around the image before a random crop of its size; 0 = no crop
    flip: bool = False  # mirror left-right with probability 1/2

    @classmethod
    def from_config(cls, augment_cfg: dict | None, default: bool) -> Augment | None:
        """From the config's `data.augment` section; `crop`/`flip` left null take the dataset's default."""
        cfg = augment_cfg or {}
        crop = default if cfg.get("crop") is None else bool(cfg["crop"])
        flip = default if cfg.get("flip") is None else bool(cfg["flip"])
        augment = cls(int(cfg.get("padding", 4)) if crop else 0, flip)
        return augment if augment.active else None

    @property
    def active(self) -> bool:
        return self.crop_padding > 0 or self.flip

    def draw(self, n: int, generator: torch.Generator) -> torch.Tensor:
        """Draws for `n` images as int64 [n, 3]: the crop's top and left offset in the padded image, and the flip."""
        draws = torch.zeros(n, 3, dtype=torch.long)
        if self.crop_padding:
            draws[:, :2] = torch.randint(0, 2 * self.crop_padding + 1, (n, 2), generator=generator)
        if self.flip:
            draws[:, 2] = torch.randint(0, 2, (n,), generator=generator)
        return draws

    def apply(self, images: torch.Tensor, draws: torch.Tensor) -> torch.Tensor:
        """Crop and flip uint8 images [B,C,H,W] by their `draws` [B,3] (on the images' device)."""
        b, c, h, w = images.shape
        pad = self.crop_padding
        padded = F.pad(images, (pad, pad, pad, pad)) if pad else images
        top, left, flip = draws[:, 0:1], draws[:, 1:2], draws[:, 2:3].bool()
        rows = top + torch.arange(h, device=images.device)  # [B,H] rows of the padded image
        cols = torch.arange(w, device=images.device).expand(b, w)
        cols = left + torch.where(flip, w - 1 - cols, cols)  # [B,W]; a flip reads the crop's columns backwards
        flat = (rows[:, :, None] * padded.shape[-1] + cols[:, None, :]).view(b, 1, h * w).expand(b, c, h * w)
        return padded.flatten(2).gather(2, flat).view(b, c, h, w)
