"""minicnn.viz graph drawing: nodes and edges against the autograd graph, gradient norms, colours, SVG."""
import xml.etree.ElementTree as ET

import numpy as np
import pytest

import minicnn
from minicnn import nn, viz
from minicnn.autograd import Function, topological_order
from minicnn.viz.graph import build_graph
from minicnn.viz.svg import heat, heat_color, layered_layout

SVG = "{http://www.w3.org/2000/svg}"


def _expression():
    x = minicnn.tensor(np.array([0.5, -1.0, 2.0]), requires_grad=True)
    w = minicnn.tensor(np.array([1.5, 0.25, -0.75]), requires_grad=True)
    return x, w, (x * w).exp().sum()


def _small_cnn():
    return nn.Sequential(nn.Conv2d(1, 2, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                         nn.Linear(2 * 3 * 3, 4))


def _svg_tree(drawing):
    return ET.fromstring(drawing._repr_svg_())


def test_nodes_and_edges_match_the_autograd_graph():
    net = _small_cnn()
    x = minicnn.randn(2, 1, 6, 6)
    loss = net(x).sum()
    order = topological_order(loss.grad_fn)
    graph = build_graph(loss, module=net)
    assert len(graph.nodes) == len(order)
    for node, autograd_node in zip(graph.nodes, order):
        if isinstance(autograd_node, Function):
            assert (node.kind, node.label) == ("op", type(autograd_node).__name__)
        else:
            assert node.kind == "leaf" and node.shape == autograd_node.shape
    # One edge per input of every op, input -> op (data-flow direction).
    expected = sorted((order.index(p), order.index(fn)) for fn in order if isinstance(fn, Function)
                      for p in fn.next_functions if p is not None)
    assert sorted(graph.edges) == expected
    # The leaves are the parameters, by name.
    leaves = {n.label for n in graph.nodes if n.kind == "leaf"}
    assert leaves == {name for name, _ in net.named_parameters()}


def test_op_shapes_are_the_shapes_of_the_intermediate_results():
    net = _small_cnn()
    loss = net(minicnn.randn(2, 1, 6, 6)).sum()
    shapes = {n.label: n.shape for n in build_graph(loss, module=net).nodes if n.kind == "op"}
    assert shapes["Conv2d"] == (2, 2, 6, 6)
    assert shapes["ReLU"] == (2, 2, 6, 6)
    assert shapes["MaxPool2d"] == (2, 2, 3, 3)
    assert shapes["Reshape"] == (2, 18)
    assert shapes["Add"] == (2, 4)
    assert shapes["Sum"] == ()


def test_a_tensor_used_twice_has_two_edges_and_unnamed_leaves_are_labelled_tensor():
    x = minicnn.tensor(np.array([1.0, 2.0]), requires_grad=True)
    y = (x * x).sum()
    graph = build_graph(y)
    assert [n.label for n in graph.nodes] == ["tensor", "Mul", "Sum"]
    assert graph.edges.count((0, 1)) == 2 and len(graph.edges) == 3


def test_gradient_norms_after_backward_are_the_norms_of_each_output_gradient():
    x, w, y = _expression()
    drawing = viz.draw_graph(y)
    y.backward()
    nodes = {n.label: n for n in drawing.graph.nodes if n.kind == "op"}
    xv, wv = x.numpy(), w.numpy()
    e = np.exp(xv * wv)
    assert nodes["Sum"].grad_norm == pytest.approx(1.0)
    assert nodes["Exp"].grad_norm == pytest.approx(np.sqrt(3.0))           # dL/d exp(.) = 1
    assert nodes["Mul"].grad_norm == pytest.approx(np.linalg.norm(e))        # dL/d(xw) = exp(xw)
    leaves = [n for n in drawing.graph.nodes if n.kind == "leaf"]
    norms = sorted(n.grad_norm for n in leaves)
    assert norms == pytest.approx(sorted([np.linalg.norm(wv * e), np.linalg.norm(xv * e)]))


def test_before_backward_no_node_has_a_gradient_and_all_are_grey():
    _, _, y = _expression()
    drawing = viz.draw_graph(y)
    assert all(n.grad_norm is None for n in drawing.graph.nodes)
    fills = {r.get("fill") for r in _svg_tree(drawing).iter(SVG + "rect") if r.get("width") != "6"}
    assert fills == {"#e8e8e8"}


def test_colours_are_ordered_by_gradient_norm():
    _, _, y = _expression()
    drawing = viz.draw_graph(y)
    y.backward()
    graph = drawing.graph
    t = heat(graph)
    by_norm = sorted(graph.nodes, key=lambda n: n.grad_norm)
    heats = [t[n.index] for n in by_norm]
    assert heats == sorted(heats) and heats[0] == 0.0 and heats[-1] == 1.0
    # The log scale: equal ratios of norms are equal steps of colour.
    lo, hi = np.log10(by_norm[0].grad_norm), np.log10(by_norm[-1].grad_norm)
    for n in graph.nodes:
        assert t[n.index] == pytest.approx((np.log10(n.grad_norm) - lo) / (hi - lo))
    # The SVG fills each box with the ramp's colour at its heat.
    for g in _svg_tree(drawing).iter(SVG + "g"):
        i = int(g.get("data-index"))
        assert g.find(SVG + "rect").get("fill") == heat_color(t[i])


def test_heat_colour_ramp_runs_from_dark_to_bright():
    brightness = [sum(int(heat_color(k / 10)[j:j + 2], 16) for j in (1, 3, 5)) for k in range(11)]
    assert brightness[0] < brightness[5] < brightness[10]
    assert heat_color(-1.0) == heat_color(0.0) and heat_color(2.0) == heat_color(1.0)


def test_recording_keeps_retain_grad_working():
    x = minicnn.tensor(np.array([1.0, -2.0]), requires_grad=True)
    h = (x * 3.0).retain_grad()
    y = (h * h).sum()
    viz.draw_graph(y)
    y.backward()
    np.testing.assert_allclose(h.grad.numpy(), 2 * h.numpy())
    np.testing.assert_allclose(x.grad.numpy(), 6 * h.numpy())


def test_svg_has_one_box_per_node_and_one_arrow_per_edge_and_saves(tmp_path):
    net = _small_cnn()
    loss = net(minicnn.randn(2, 1, 6, 6)).sum()
    drawing = viz.draw_graph(loss, module=net, title="small CNN")
    loss.backward()
    root = _svg_tree(drawing)
    graph = drawing.graph
    boxes = [g for g in root.iter(SVG + "g") if "node" in g.get("class")]
    arrows = [p for p in root.iter(SVG + "path") if p.get("class") == "edge"]
    assert len(boxes) == len(graph.nodes) and len(arrows) == len(graph.edges)
    texts = " ".join(t.text or "" for t in root.iter(SVG + "text"))
    assert "0.weight" in texts and "Conv2d" in texts and "(2, 2, 6, 6)" in texts
    path = drawing.save(tmp_path / "graph.svg")
    assert ET.parse(path).getroot().tag == SVG + "svg"


def test_layout_puts_every_edge_downwards_and_leaves_just_above_their_use():
    net = _small_cnn()
    graph = build_graph(net(minicnn.randn(1, 1, 6, 6)).sum(), module=net)
    place, routes = layered_layout(graph)
    assert all(place[s][0] < place[d][0] for s, d in graph.edges)
    # A long edge passes through one dummy per layer it crosses.
    for k, (s, d) in enumerate(graph.edges):
        assert [place[key][0] for key in routes[k]] == list(range(place[s][0] + 1, place[d][0]))
    linear_weight = next(n.index for n in graph.nodes if n.label == "4.weight")
    first_use = min(place[d][0] for s, d in graph.edges if s == linear_weight)
    assert place[linear_weight][0] == first_use - 1
    positions = [(layer, pos) for layer, pos in place.values()]
    assert len(set(positions)) == len(positions)


def _unet():
    return minicnn.models.UNet(in_channels=1, num_classes=2, base_channels=4, depth=2, padding="same")


def test_depth_draws_one_box_per_called_module_and_keeps_every_op():
    net = _unet()
    with viz.trace_modules(net):
        loss = net(minicnn.randn(1, 1, 16, 16)).sum()
    full = build_graph(loss, module=net)
    boxes = build_graph(loss, module=net, depth=1, collapse_repeats=False)
    labels = [n.label for n in boxes.nodes if n.kind == "module"]
    assert sorted(labels) == sorted(["encoder.0", "pool", "encoder.1", "pool#2", "encoder.2",
                                     "decoder.1", "decoder.0", "head"])
    types = {n.label: n.type_name for n in boxes.nodes}
    assert types["encoder.0"] == "DoubleConv" and types["pool#2"] == "MaxPool2d"
    n_ops = sum(n.kind == "op" for n in full.nodes)
    assert sum(n.count for n in boxes.nodes if n.kind != "leaf") == n_ops
    assert len(boxes.nodes) < len(full.nodes) / 4
    head = next(n for n in boxes.nodes if n.label == "head")
    assert head.shape == (1, 2, 16, 16)
    # Boxes come inputs first, and the skip connections are there: encoder.0 feeds decoder.0.
    index = {n.label: n.index for n in boxes.nodes}
    assert all(s < d for s, d in boxes.edges)
    assert (index["encoder.0"], index["decoder.0"]) in boxes.edges


def test_repeated_blocks_collapse_into_one_box_with_a_count():
    net = minicnn.models.resnet18(num_classes=3, in_channels=1, base_channels=4, small_input=True)
    drawing = viz.draw_model(net, minicnn.randn(2, 1, 8, 8), depth=2)
    boxes = {n.label: n for n in drawing.graph.nodes if n.kind == "module"}
    for stage in (1, 2, 3, 4):
        box = boxes[f"layer{stage}.0 .. layer{stage}.1"]
        assert (box.type_name, box.repeats) == ("BasicBlock", 2)
    texts = " ".join(t.text or "" for t in _svg_tree(drawing).iter(SVG + "text"))
    assert "BasicBlock x 2" in texts
    uncollapsed = viz.draw_model(net, minicnn.randn(2, 1, 8, 8), depth=2, collapse_repeats=False)
    assert {"layer1.0", "layer1.1"} <= {n.label for n in uncollapsed.graph.nodes}


def test_grouped_boxes_take_the_gradient_norm_of_their_output():
    net = _unet()
    with viz.trace_modules(net):
        out = net(minicnn.randn(1, 1, 16, 16))
    loss = (out * out).sum()
    drawing = viz.draw_graph(loss, module=net, depth=1)
    loss.backward()
    head = next(n for n in drawing.graph.nodes if n.label == "head")
    assert head.grad_norm == pytest.approx(np.linalg.norm(2 * out.numpy()), rel=1e-5)


def test_bad_input_is_reported_clearly():
    with pytest.raises(TypeError, match="draw_graph: expected a minicnn Tensor"):
        viz.draw_graph(np.ones(3))
    with pytest.raises(ValueError, match="requires_grad=False"):
        viz.draw_graph(minicnn.ones(3))
    net = _small_cnn()
    loss = net(minicnn.randn(1, 1, 6, 6)).sum()
    with pytest.raises(ValueError, match="trace_modules"):
        viz.draw_graph(loss, module=net, depth=1)
    with pytest.raises(ValueError, match="depth must be None or an int >= 1"):
        build_graph(loss, depth=0)


def test_draws_on_every_backend(backend):
    x = minicnn.tensor(np.array([0.5, -1.0]), requires_grad=True)
    y = (x.exp() * 2.0).sum()
    drawing = viz.draw_graph(y)
    y.backward()
    norms = [n.grad_norm for n in drawing.graph.nodes]
    assert norms[-1] == pytest.approx(1.0) and all(v is not None for v in norms)
    assert drawing.svg().startswith("<svg")


def test_ops_reached_through_a_keyword_input_keep_their_own_module():
    class Gated(nn.Module):
        def __init__(self):
            super().__init__()
            self.scale = nn.Linear(2, 2)

        def forward(self, x, gate=None):
            return self.scale(x) * gate

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.make_gate = nn.Linear(2, 2)
            self.block = Gated()

        def forward(self, x):
            return self.block(x, gate=self.make_gate(x).sigmoid())

    net = Net()
    with viz.trace_modules(net):
        loss = net(minicnn.randn(3, 2)).sum()
    boxes = {n.label: n for n in build_graph(loss, module=net, depth=1).nodes}
    # The gate's Linear ops (tagged when make_gate returned) stay in make_gate. The sigmoid, made by
    # Net itself and passed by keyword, is counted in block: hooks see positional inputs only.
    assert boxes["make_gate"].count == 3 and boxes["block"].count == 4 + 1
    assert (boxes["make_gate"].index, boxes["block"].index) in build_graph(loss, module=net, depth=1).edges
