"""``minicnn.models``: networks built from ``minicnn.nn`` modules.

* :mod:`~minicnn.models.unet`: ``UNet`` (Ronneberger et al. 2015; valid or same padding,
  transposed-conv or bilinear up-sampling, optional attention gates of Oktay et al. 2018).
* :mod:`~minicnn.models.resnet`: ``ResNet`` with torchvision's layout and keys, ``resnet18/34/50/101``,
  ``resnext50_32x4d``, ``resnext101_32x8d``, ``wide_resnet50_2``, ``wide_resnet101_2``, each with
  ``attention=None | "se" | "eca" | "cbam" | "bam" | "ge" | "sk"``.
* :mod:`~minicnn.models.residual_attention_net`: ``attention56``, ``attention92`` (Wang et al. 2017).
* :mod:`~minicnn.models.attention_gated_net`: ``AttentionGatedClassifier`` (Schlemper et al. 2019).
* :mod:`~minicnn.models.danet`: ``DANet`` (Fu et al. 2019): dilated ResNet + PAM/CAM head.

The segmentation lecture's networks (notes 003), each small by default with ``.paper()`` sizes:

* :mod:`~minicnn.models.fcn`: ``FCN``, ``fcn32s/16s/8s`` (Long et al. 2015);
* :mod:`~minicnn.models.segnet`: ``SegNet`` (Badrinarayanan et al. 2017), ``DeconvNet`` (Noh et al. 2015);
* :mod:`~minicnn.models.context`: the dilated ``ContextModule`` (Yu & Koltun 2016), ``receptive_field``;
* :mod:`~minicnn.models.deeplab`: ``ASPP``, ``DeepLabV3``, ``DeepLabV3Plus`` (Chen et al. 2017, 2018);
* :mod:`~minicnn.models.pspnet`: ``PyramidPoolingModule``, ``PSPNet``, ``pspnet_loss`` (Zhao et al. 2017);
* :mod:`~minicnn.models.refinenet`: ``RefineNet`` (Lin et al. 2017).

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
from . import (attention_gated_net, context, danet, deeplab, fcn, pspnet, refinenet,  # noqa: F401
               residual_attention_net, resnet, segnet, unet)

__all__ = [name for module in (attention_gated_net, danet, residual_attention_net, resnet, unet, fcn, segnet,
                               context, deeplab, pspnet, refinenet)
           for name in module.__all__]
