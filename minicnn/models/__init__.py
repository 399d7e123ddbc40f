"""``minicnn.models``: networks built from ``minicnn.nn`` modules.

* :mod:`~minicnn.models.unet`: ``UNet`` (Ronneberger et al. 2015; valid or same padding,
  transposed-conv or bilinear up-sampling, optional attention gates of Oktay et al. 2018).
* :mod:`~minicnn.models.resnet`: ``ResNet`` with torchvision's layout and keys, ``resnet18/34/50/101``,
  ``resnext50_32x4d``, ``resnext101_32x8d``, ``wide_resnet50_2``, ``wide_resnet101_2``, each with
  ``attention=None | "se" | "eca" | "cbam" | "bam" | "ge" | "sk"``.
* :mod:`~minicnn.models.residual_attention_net`: ``attention56``, ``attention92`` (Wang et al. 2017).
* :mod:`~minicnn.models.attention_gated_net`: ``AttentionGatedClassifier`` (Schlemper et al. 2019).
* :mod:`~minicnn.models.danet`: ``DANet`` (Fu et al. 2019): dilated ResNet + PAM/CAM head.

Every network with attention has ``attention_maps()``, the attention of its last forward pass.
"""
from .attention_gated_net import *  # noqa: F401,F403
from .danet import *  # noqa: F401,F403
from .residual_attention_net import *  # noqa: F401,F403
from .resnet import *  # noqa: F401,F403
from .unet import *  # noqa: F401,F403
from .fcn import *  # noqa: F401,F403
from .segnet import *  # noqa: F401,F403
from .context import *  # noqa: F401,F403
from .deeplab import *  # noqa: F401,F403
from .pspnet import *  # noqa: F401,F403
from .refinenet import *  # noqa: F401,F403
from . import attention_gated_net, danet, residual_attention_net, resnet, unet  # noqa: F401

__all__ = (attention_gated_net.__all__ + danet.__all__ + residual_attention_net.__all__ + resnet.__all__
           + unet.__all__)
