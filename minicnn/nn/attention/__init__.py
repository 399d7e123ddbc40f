"""Attention modules for CNNs, one concept per file.

===========================  ==========================================================
file                         modules
===========================  ==========================================================
``se.py``                    SE, SEVar1, SEVar2, SEVar3 (channel attention)
``eca.py``                   ECA, eca_kernel_size (channel attention, 1-D conv)
``cbam.py``                  CBAMChannelAttention, CBAMSpatialAttention, CBAM
``bam.py``                   BAMChannelAttention, BAMSpatialAttention, BAM
``gather_excite.py``         GENoParams, GEParams, GEParamsPlus
``selective_kernel.py``      SK, Fuse, Select (attention over branches; Branch, Split inside)
``danet.py``                 PAM, CAM (self-attention over positions / channels)
``attention_gate.py``        AttentionGate (Attention U-Net)
``residual_attention.py``    ResidualUnit, ResidualAttentionModule
``base.py``                  AttentionModule: the ``last_attention`` every module keeps
===========================  ==========================================================

Class names, constructor arguments, defaults and state_dict keys follow the
article "Attention in Vision" [BobMcDear, 2022] (docs/bibliography.md) where it
defines a module, so its PyTorch modules' weights load with ``load_state_dict``.
Every module keeps the attention it computed in its last forward pass,
detached, on ``last_attention`` (for plotting; ``base.py``); each docstring
says what it holds. Internals (SK's Branch and Split, CBAM's ChannelAvgPool
and ChannelMaxPool) are importable from their files, not from ``minicnn.nn``.
"""
from .se import *  # noqa: F401,F403
from .eca import *  # noqa: F401,F403
from .cbam import *  # noqa: F401,F403
from .bam import *  # noqa: F401,F403
from .gather_excite import *  # noqa: F401,F403
from .selective_kernel import *  # noqa: F401,F403
from .danet import *  # noqa: F401,F403
from .attention_gate import *  # noqa: F401,F403
from .residual_attention import *  # noqa: F401,F403
from . import attention_gate, bam, cbam, danet, eca, gather_excite, residual_attention, se, selective_kernel

__all__ = (se.__all__ + eca.__all__ + cbam.__all__ + bam.__all__ + gather_excite.__all__
           + selective_kernel.__all__ + danet.__all__ + attention_gate.__all__
           + residual_attention.__all__)
