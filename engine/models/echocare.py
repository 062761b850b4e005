"""The EchoCare encoder: MONAI's 2-D Swin transformer (SwinUNETR v2 encoder) and its variants.

Every variant is an :class:`EncoderArch` registered by name in :data:`ENCODERS` and built by
:func:`build_encoder`, so the test, demo and CPU models share the code path of the released
``echocare_swin_b`` (120.2 M parameters, five feature levels of 128..2048 channels at 1/2..1/32
of a 256x256 input).

State-dict layout: :class:`EchoCareEncoder` *subclasses* ``monai.networks.nets.swin_unetr.
SwinTransformer`` rather than wrapping it, so its keys are exactly the official ones
(``patch_embed.*``, ``layers1..4.*``, ``layers1c..4c.*``) plus the pretraining key
``mask_token`` [1, 1, embed_dim] that the released ``echocare_encoder.pth`` carries. The
official file therefore loads with ``strict=True`` as it is, ``mask_token`` included.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from monai.networks.nets.swin_unetr import SwinTransformer
from torch import Tensor, nn

from engine.heads.base import FeatureSpec
from engine.registry import Registry

MASK_TOKEN = "mask_token"


@dataclass(frozen=True)
class EncoderArch:
    """Hyper-parameters of one encoder variant (MONAI ``SwinTransformer`` keyword arguments).

    Attributes:
        embed_dim: channels of the first level; level ``i`` has ``embed_dim * 2**i`` and the
            fifth level ``embed_dim * 16``.
        depths: transformer blocks per stage (four stages).
        num_heads: attention heads per stage; each must divide that stage's channels.
        window_size: attention window, in tokens.
        patch_size: input pixels per token side (EchoCare uses 2, hence the 1/2 first level).
        in_chans: channels of the input image.
        mlp_ratio: hidden width of the MLPs relative to the channels.
        qkv_bias: whether the qkv projection has a bias.
    """

    embed_dim: int
    depths: tuple[int, int, int, int]
    num_heads: tuple[int, int, int, int]
    window_size: int = 8
    patch_size: int = 2
    in_chans: int = 3
    mlp_ratio: float = 4.0
    qkv_bias: bool = True

    @property
    def channels(self) -> tuple[int, ...]:
        """Channels of the five output levels."""
        return (*(self.embed_dim * 2**i for i in range(4)), self.embed_dim * 16)

    @property
    def strides(self) -> tuple[int, ...]:
        """Input pixels per feature pixel of the five output levels."""
        return tuple(self.patch_size * 2**i for i in range(5))

    def monai_kwargs(self) -> dict[str, object]:
        """The keyword arguments of MONAI ``SwinTransformer`` that build this variant."""
        return {
            "in_chans": self.in_chans,
            "embed_dim": self.embed_dim,
            "window_size": (self.window_size,) * 2,
            "patch_size": (self.patch_size,) * 2,
            "depths": list(self.depths),
            "num_heads": list(self.num_heads),
            "mlp_ratio": self.mlp_ratio,
            "qkv_bias": self.qkv_bias,
            "spatial_dims": 2,
            "use_v2": True,
        }


ENCODERS: Registry[EncoderArch] = Registry("encoder")

# The released EchoCare encoder (echocare.md section 2.1).
ENCODERS.register("echocare_swin_b")(
    EncoderArch(embed_dim=128, depths=(2, 2, 18, 2), num_heads=(4, 8, 16, 32), window_size=8)
)
# A CPU student for distillation: about 11.6 M parameters.
ENCODERS.register("echocare_lite")(
    EncoderArch(embed_dim=48, depths=(2, 2, 6, 2), num_heads=(3, 6, 12, 24), window_size=8)
)
# The bundled demo model's encoder: about 1.1 M parameters (4.4 MB in fp32).
ENCODERS.register("echocare_small")(
    EncoderArch(embed_dim=16, depths=(2, 2, 2, 2), num_heads=(1, 2, 4, 8), window_size=8)
)
# The demo model's distilled student: echocare_small with one block per stage, so a student
# can start from the teacher's weights (training.distill.student.init_from_teacher).
ENCODERS.register("echocare_mini")(
    EncoderArch(embed_dim=16, depths=(1, 1, 1, 1), num_heads=(1, 2, 4, 8), window_size=8)
)
# A tiny variant for tests: about 0.5 M parameters, still five levels.
ENCODERS.register("echocare_test")(
    EncoderArch(embed_dim=12, depths=(1, 1, 1, 1), num_heads=(1, 1, 2, 2), window_size=4)
)


class EchoCareEncoder(SwinTransformer):
    """MONAI Swin encoder with the official EchoCare layout plus a masked-modelling token.

    Args:
        arch: the variant's hyper-parameters.
        name: the registered variant name, kept for model cards and error messages.
    """

    def __init__(self, arch: EncoderArch, name: str = "") -> None:
        super().__init__(**arch.monai_kwargs())  # type: ignore[arg-type]
        self.arch = arch
        self.arch_name = name
        self.mask_token = nn.Parameter(torch.zeros(1, 1, arch.embed_dim))

    def feature_spec(self, input_size: tuple[int, int] = (256, 256)) -> FeatureSpec:
        """Channels and strides of the five output levels for inputs of ``input_size`` (H, W)."""
        return FeatureSpec(
            channels=self.arch.channels,
            strides=self.arch.strides,
            input_size=(int(input_size[0]), int(input_size[1])),
            in_chans=self.arch.in_chans,
        )

    def embed(self, x: Tensor, mask: Tensor | None = None) -> Tensor:
        """Patch embedding, with masked tokens replaced by ``mask_token``.

        Args:
            x: images [B, in_chans, H, W].
            mask: optional bool [B, H / patch, W / patch]; True marks a masked token.

        Returns:
            token grid [B, embed_dim, H / patch, W / patch].
        """
        x0 = self.patch_embed(x)
        if mask is not None:
            if mask.shape != (x0.shape[0], *x0.shape[2:]):
                raise ValueError(f"mask shape {tuple(mask.shape)} does not match tokens {tuple(x0.shape)}")
            token = self.mask_token.to(x0.dtype).reshape(1, -1, 1, 1)
            x0 = torch.where(mask.unsqueeze(1), token, x0)
        return self.pos_drop(x0)

    def forward(self, x: Tensor, mask: Tensor | None = None) -> list[Tensor]:  # type: ignore[override]
        """Encode images into the five-level feature pyramid.

        Args:
            x: images [B, in_chans, H, W], normalised as the model card says.
            mask: optional bool [B, H / patch, W / patch] for masked-image-modelling pretraining.

        Returns:
            five maps, level ``i`` [B, channels[i], H / strides[i], W / strides[i]], each
            layer-normalised over channels (MONAI ``normalize=True``).
        """
        h = self.embed(x, mask)
        outs = [self.proj_out(h, True)]
        for stage in range(1, 5):
            if self.use_v2:
                h = getattr(self, f"layers{stage}c")[0](h.contiguous())
            h = getattr(self, f"layers{stage}")[0](h.contiguous())
            outs.append(self.proj_out(h, True))
        return outs


def build_encoder(arch: str | EncoderArch) -> EchoCareEncoder:
    """Build an encoder variant by registered name (or from explicit hyper-parameters).

    Raises:
        KeyError: the name is not registered.
    """
    if isinstance(arch, EncoderArch):
        return EchoCareEncoder(arch)
    return EchoCareEncoder(ENCODERS.get(arch), name=arch)
