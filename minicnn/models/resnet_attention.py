"""Where the attention modules go in a ResNet, and the function that builds them.

:class:`~minicnn.models.resnet.ResNet` takes ``attention=`` one of
:data:`ATTENTIONS`; every module is placed where its paper puts it:

=========  ==================================================================
``"se"``   SE (Hu et al. 2018) in every block, on the residual branch after
           the last BN, before the addition: y = relu(SE(F(x)) + shortcut(x))
``"eca"``  ECA (Wang et al. 2020), same place; k from the channels (paper)
``"cbam"`` CBAM (Woo et al. 2018), same place
``"ge"``   Gather-Excite (Hu et al. 2018), same place; GE-theta-plus with
           extent 8 by default (``attention_kwargs={"variant": "theta-minus"
           | "theta" | "theta-plus", "extent": e}``; a global extent 0 of the
           parametric variants needs ``spatial_dim`` and so a fixed input size)
``"bam"``  BAM (Park et al. 2018) *between* stages: after layer1, layer2 and
           layer3 (``bam1``, ``bam2``, ``bam3``), none after layer4
``"sk"``   SK convolution (Li et al. 2019) *replaces* a 3x3 convolution (and
           its BN and ReLU, which the SK branches contain): conv2 of every
           bottleneck (as in SKNet). An SK unit maps C -> C channels, so in a
           basic block it replaces conv2 + bn2 (the 3x3 that keeps the width;
           the strided conv1 stays). The SK convolution uses the block's
           ``groups`` (1 for ResNet, 32 for ResNeXt: ``resnext50_32x4d(
           attention="sk", attention_kwargs={"min_reduced_dim": 32})`` is
           SKNet-50). Not combinable with dilated stages (the SK branches
           have their own dilations)
=========  ==================================================================

Measured ResNet-50 counts agree with the papers: SE 28,088,024 (SE paper 28.09M),
CBAM 28,089,608 (28.09M), SKNet-50 = ResNeXt-50 with SK and L = 32
27,479,784 (27.5M); ECA adds 86 parameters (25,557,118).

"""
from ..nn.attention.cbam import CBAM
from ..nn.attention.eca import ECA
from ..nn.attention.gather_excite import GENoParams, GEParams, GEParamsPlus
from ..nn.attention.se import SE

__all__ = ["ATTENTIONS"]

# The valid values of ``attention=`` (None means a plain ResNet).
ATTENTIONS = (None, "se", "eca", "cbam", "bam", "ge", "sk")
GE_VARIANTS = {"theta-minus": GENoParams, "theta": GEParams, "theta-plus": GEParamsPlus}


def check_attention(attention):
    """Raise ValueError for an unknown ``attention=`` name, listing the valid ones."""
    if attention not in ATTENTIONS:
        raise ValueError(f"ResNet: unknown attention {attention!r}; expected one of "
                         f"{', '.join(repr(a) for a in ATTENTIONS)}")


def block_attention(attention, channels, attention_kwargs=None):
    """The attention module that sits in a block on ``channels`` channels (SE, ECA, CBAM, GE), or None."""
    kwargs = dict(attention_kwargs or {})
    if attention == "se":
        return SE(channels, **kwargs)
    if attention == "eca":
        return ECA.from_channels(channels, **kwargs)     # k = psi(C), the paper's adaptive kernel size
    if attention == "cbam":
        return CBAM(channels, **kwargs)
    if attention == "ge":
        variant = kwargs.pop("variant", "theta-plus")
        if variant not in GE_VARIANTS:
            raise ValueError(f"ResNet: unknown Gather-Excite variant {variant!r}; expected one of "
                             f"{', '.join(repr(v) for v in GE_VARIANTS)}")
        extent = kwargs.pop("extent", 8)
        if variant == "theta-minus":
            return GENoParams(extent, **kwargs)
        return GE_VARIANTS[variant](channels, extent, **kwargs)
    return None


def check_sk_dilation(attention, dilation):
    """SK convolutions have their own dilations 1..M: raise ValueError in a dilated stage."""
    if attention == "sk" and dilation != 1:
        raise ValueError(f"ResNet: attention='sk' cannot be combined with dilated stages (dilation={dilation}): "
                         "the SK branches have their own fixed dilations 1..M; use "
                         "replace_stride_with_dilation=None with SK")
