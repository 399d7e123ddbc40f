"""Grad-CAM (Selvaraju et al., 2017) against a torch implementation on the same weights."""
import numpy as np
import pytest

import minicnn
from minicnn import models, nn, viz
from minicnn.viz.gradcam import cam_from_activations, cam_from_activations_naive


def torch_grad_cam(torch, model, layer, x, classes, normalize=True):
    """Grad-CAM written directly from the paper's equations, in torch."""
    import torch.nn.functional as TF
    kept = {}

    def hook(module, args, output):
        output.retain_grad()
        kept["A"] = output

    handle = layer.register_forward_hook(hook)
    scores = model(x)
    handle.remove()
    scores[torch.arange(len(classes)), torch.as_tensor(classes)].sum().backward()
    A, dA = kept["A"], kept["A"].grad
    cam = torch.relu((dA.mean(dim=(2, 3), keepdim=True) * A).sum(dim=1, keepdim=True))
    cam = TF.interpolate(cam, size=x.shape[2:], mode="bilinear", align_corners=False)[:, 0]
    if normalize:
        peak = cam.amax(dim=(1, 2), keepdim=True)
        cam = torch.where(peak > 0, cam / torch.where(peak > 0, peak, 1), 0)
    return cam.detach().numpy(), scores.detach().numpy()


def _twins(torch):
    import reference_attention as RA
    import reference_models as RM
    torch.manual_seed(0)
    resnet = models.resnet18(num_classes=4, in_channels=1, base_channels=4, small_input=True)
    torch_resnet = RA.randomize_(RM.torch_resnet("resnet18", num_classes=4, in_channels=1,
                                                 base_channels=4, small_input=True), seed=1)
    se_net = nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.SE(8, reduction_factor=2),
                           nn.Conv2d(8, 8, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1),
                           nn.Flatten(), nn.Linear(8, 3))
    tn = torch.nn
    torch_se_net = tn.Sequential(tn.Conv2d(1, 8, 3, padding=1), tn.ReLU(), RA.SE(8, reduction_factor=2),
                                 tn.Conv2d(8, 8, 3, padding=1), tn.ReLU(), tn.AdaptiveAvgPool2d(1),
                                 tn.Flatten(), tn.Linear(8, 3))
    pairs = []
    for ours, theirs in ((resnet, torch_resnet), (se_net, torch_se_net)):
        theirs.double().eval()
        ours.to("float64").eval()
        ours.load_state_dict(theirs.state_dict())
        pairs.append((ours, theirs))
    return pairs


@pytest.mark.parametrize("case, layer, target, grid", [
    (0, "layer4", None, (3, 3)), (0, "layer3", None, (6, 6)), (0, "layer2.1", [3, 0, 1], (12, 12)),
    (1, "2", None, (24, 24)), (1, "3", 2, (24, 24)),
])
def test_grad_cam_matches_torch_on_the_same_weights(torch, case, layer, target, grid):
    ours, theirs = _twins(torch)[case]
    x = np.random.default_rng(case).normal(size=(3, 1, 24, 24))
    reference_scores = theirs(torch.tensor(x)).detach().numpy()
    classes = reference_scores.argmax(axis=1) if target is None else np.broadcast_to(target, (3,))
    expected, _ = torch_grad_cam(torch, theirs, dict(theirs.named_modules())[layer], torch.tensor(x),
                                 classes.tolist())
    cam = viz.grad_cam(ours, layer, x, target=target)
    assert cam.shape == (3, 24, 24)
    assert (cam.max(axis=(1, 2)) == 1).any()                   # not every map is all zero
    np.testing.assert_allclose(cam, expected, rtol=1e-8, atol=1e-10)
    expected_raw, _ = torch_grad_cam(torch, theirs, dict(theirs.named_modules())[layer], torch.tensor(x),
                                     classes.tolist(), normalize=False)
    np.testing.assert_allclose(viz.grad_cam(ours, layer, x, target=target, normalize=False), expected_raw,
                               rtol=1e-8, atol=1e-12)
    raw = viz.grad_cam(ours, layer, x, target=target, upsample=False, normalize=False)
    assert raw.min() >= 0 and raw.shape == (3,) + grid


def test_grad_cam_leaves_the_parameters_gradients_as_they_were():
    net = models.resnet18(num_classes=3, in_channels=1, base_channels=4, small_input=True).eval()
    x = minicnn.randn(2, 1, 8, 8)
    net(x).sum().backward()
    before = {name: p.grad.numpy().copy() for name, p in net.named_parameters()}
    viz.grad_cam(net, net.layer4, x)
    for name, p in net.named_parameters():
        np.testing.assert_array_equal(p.grad.numpy(), before[name])


def test_vectorised_combination_equals_the_loops():
    rng = np.random.default_rng(0)
    A, dA = rng.normal(size=(2, 3, 4, 5)), rng.normal(size=(2, 3, 4, 5))
    np.testing.assert_allclose(cam_from_activations(A, dA), cam_from_activations_naive(A, dA))


def test_the_map_of_a_class_covers_the_region_its_evidence_comes_from():
    # Channel 0 of the input is non-zero only on the left half, channel 1 only on the right half;
    # the "features" layer passes them through (1x1 identity convolution) and class c is the mean
    # of feature channel c. Grad-CAM of class 0 is then exactly the left half, of class 1 the right.
    class TwoHalves(nn.Module):
        def __init__(self):
            super().__init__()
            self.features = nn.Conv2d(2, 2, 1)
            self.features.weight.data[...] = np.eye(2, dtype=np.float32)[:, :, None, None]
            self.features.bias.data[...] = 0.0

        def forward(self, x):
            return self.features(x).relu().mean(dim=(2, 3))

    x = np.zeros((1, 2, 8, 8), dtype=np.float32)
    rng = np.random.default_rng(0)
    x[0, 0, :, :4] = rng.uniform(0.5, 1.0, (8, 4))
    x[0, 1, :, 4:] = rng.uniform(0.5, 1.0, (8, 4))
    left = viz.grad_cam(TwoHalves(), "features", x, target=0, upsample=False, normalize=False)
    right = viz.grad_cam(TwoHalves(), "features", x, target=1, upsample=False, normalize=False)
    # dy0/dA0 = 1/64 where A0 > 0 (the left half): alpha_0 = 32/64 * 1/64 = 1/128, and A_0 = x_0
    np.testing.assert_allclose(left[0], x[0, 0] / 128, rtol=1e-6)
    np.testing.assert_allclose(right[0], x[0, 1] / 128, rtol=1e-6)


def test_bad_arguments_are_reported_clearly():
    net = models.resnet18(num_classes=3, in_channels=1, base_channels=4, small_input=True).eval()
    x = minicnn.randn(1, 1, 8, 8)
    with pytest.raises(ValueError, match="no sub-module 'layer9'"):
        viz.grad_cam(net, "layer9", x)
    with pytest.raises(ValueError, match=r"target classes must be in \[0, 3\)"):
        viz.grad_cam(net, "layer4", x, target=3)
    with pytest.raises(ValueError, match="must output one \\(N, C, h, w\\) tensor"):
        viz.grad_cam(net, "fc", x)
    with pytest.raises(ValueError, match="was not called"):
        viz.grad_cam(net, nn.Conv2d(1, 1, 1), x)


def test_plot_shows_each_map_over_its_image():
    images = np.random.default_rng(0).random((2, 1, 8, 8))
    maps = {"Grad-CAM": np.random.default_rng(1).random((2, 8, 8)),
            "SE": np.random.default_rng(2).random((2, 8, 8))}
    fig = viz.plot_grad_cam(images, maps)
    assert len(fig.axes) == 6
    overlay = fig.axes[1].get_images()[1]
    np.testing.assert_allclose(overlay.get_array(), maps["Grad-CAM"][0])
    assert overlay.get_clim() == (maps["Grad-CAM"][0].min(), maps["Grad-CAM"][0].max())


def test_grad_cam_runs_on_every_backend(backend):
    minicnn.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.Conv2d(4, 4, 3, padding=1),
                        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4, 3)).to("float64")
    x = np.random.default_rng(0).normal(size=(2, 1, 6, 6))
    cam = viz.grad_cam(net, "2", x, target=1, normalize=False)
    # The same map from the layer's output and its gradient, computed here with NumPy.
    kept = {}
    handle = net[2].register_forward_hook(lambda m, a, o: kept.setdefault("A", o.retain_grad()))
    (net(minicnn.tensor(x))[:, 1]).sum().backward()
    handle.remove()
    A, dA = kept["A"].numpy(), kept["A"].grad.numpy()
    expected = cam_from_activations_naive(A, dA)
    assert isinstance(cam, np.ndarray)
    np.testing.assert_allclose(cam, expected, rtol=1e-10, atol=1e-12)   # 6x6 -> 6x6: no resampling
