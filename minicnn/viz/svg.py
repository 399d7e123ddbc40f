"""Drawing a :class:`~minicnn.viz.graph.Graph` as SVG text, in pure Python (no Graphviz).

Graphviz is a separate program that many students cannot install, so the
layout here is the classic *layered* drawing of a directed acyclic graph
(Sugiyama et al., 1981: Sugiyama, Tagawa and Toda), in its simplest form:

1. **Layers by longest path.** ``layer(v) = 1 + max(layer(u) for u -> v)`` (0 for
   a node without inputs), so every arrow points down. Then, from the output
   back, every node moves down to just above its first consumer, so a weight
   (and the transpose that prepares it) waits next to the op that uses it, not
   at the top with a long arrow.
2. **Order inside a layer by barycentres.** Sweeping down, each node is placed
   at the mean position of its inputs; sweeping up, at the mean position of its
   consumers. A few sweeps remove most crossings (the barycentre heuristic,
   Sugiyama et al., 1981).
3. **Coordinates.** Boxes are as wide as their text; each layer is centred.

Colours: after a backward pass each box is filled by its gradient norm on a
logarithmic scale (dark blue: smallest norm of the graph, yellow: largest),
so vanishing or exploding gradients show at a glance; grey means "no gradient
recorded". :func:`heat` gives each node's position on that scale.
"""
from __future__ import annotations

import math
from xml.sax.saxutils import escape

from .graph import topological_indices

__all__ = ["layered_layout", "heat", "heat_color", "to_svg", "node_text"]

# A perceptually ordered ramp (five anchor colours of viridis), dark (small) to bright (large).
_RAMP = [(68, 1, 84), (59, 82, 139), (33, 145, 140), (94, 201, 98), (253, 231, 37)]
_NO_GRADIENT = "#e8e8e8"
_CHAR_W, _LINE_H, _PAD, _GAP_X, _GAP_Y, _DUMMY_W = 7.0, 14.0, 8.0, 18.0, 42.0, 4.0


def layered_layout(graph, sweeps=4):
    """Layers and orders: ``(place, routes)``.

    ``place`` maps each node index, and each *dummy* key, to ``(layer, position in layer)``;
    ``routes[k]`` lists the dummies of edge k, top to bottom. An edge that spans several
    layers gets one small dummy box in each layer it crosses (Sugiyama et al., 1981), so the
    ordering routes it *around* the boxes instead of through them (U-Net's skip connections).
    """
    preds = {n.index: [] for n in graph.nodes}
    succs = {n.index: [] for n in graph.nodes}
    for s, d in graph.edges:
        preds[d].append(s)
        succs[s].append(d)
    layer = {}
    order = topological_indices(graph)
    for i in order:
        layer[i] = 1 + max((layer[p] for p in preds[i] if p in layer), default=-1)
    for i in reversed(order):          # then as late as possible: a weight just above its first use
        later = [layer[c] for c in succs[i] if layer[c] > layer[i]]
        if later:
            layer[i] = min(later) - 1
    # The layered graph: long edges become chains through dummies.
    up = {i: [] for i in layer}
    down = {i: [] for i in layer}
    routes = {}
    for k, (s, d) in enumerate(graph.edges):
        chain = [("dummy", k, level) for level in range(layer[s] + 1, layer[d])]
        routes[k] = chain
        for key in chain:
            layer[key], up[key], down[key] = key[2], [], []
        path = [s] + chain + [d]
        for a, b in zip(path, path[1:]):
            up[b].append(a)
            down[a].append(b)
    layers = {}
    for key in layer:
        layers.setdefault(layer[key], []).append(key)
    rows = [layers[k] for k in sorted(layers)]
    position = {key: p for row in rows for p, key in enumerate(row)}

    def reorder(row, neighbours):
        def barycentre(key):
            near = neighbours[key]
            return sum(position[j] for j in near) / len(near) if near else position[key]
        row.sort(key=lambda key: (barycentre(key), position[key]))
        position.update({key: p for p, key in enumerate(row)})

    for _ in range(sweeps):
        for row in rows[1:]:
            reorder(row, up)
        for row in reversed(rows[:-1]):
            reorder(row, down)
    return {key: (layer[key], position[key]) for key in position}, routes


def heat(graph):
    """``{node index: t in [0, 1]}``: log10 of the gradient norm, scaled to the graph's range.

    Nodes without a recorded gradient are left out; a zero norm counts as the smallest.
    """
    logs = {n.index: math.log10(n.grad_norm) for n in graph.nodes
            if n.grad_norm is not None and n.grad_norm > 0}
    zeros = [n.index for n in graph.nodes if n.grad_norm == 0]
    if not logs:
        return {i: 0.0 for i in zeros}
    low, high = min(logs.values()), max(logs.values())
    span = high - low
    out = {i: (v - low) / span if span > 0 else 1.0 for i, v in logs.items()}
    out.update({i: 0.0 for i in zeros})
    return out


def heat_color(t):
    """The ramp's colour at ``t`` in [0, 1], as ``#rrggbb`` (linear between the anchors)."""
    t = min(max(float(t), 0.0), 1.0) * (len(_RAMP) - 1)
    k = min(int(t), len(_RAMP) - 2)
    f = t - k
    rgb = [round(a + (b - a) * f) for a, b in zip(_RAMP[k], _RAMP[k + 1])]
    return "#{:02x}{:02x}{:02x}".format(*rgb)


def node_text(node):
    """The lines written in a box."""
    shape = "(" + ", ".join(str(s) for s in node.shape) + ")"
    if node.kind == "module":
        first = node.label + (f" ({node.type_name}" if node.type_name else "")
        if node.repeats > 1:
            first += f" x {node.repeats}"
        first += ")" if node.type_name else ""
        lines = [first, f"{node.count} ops -> {shape}"]
    else:
        lines = [node.label, shape]
    if node.grad_norm is not None:
        lines.append(f"|grad| {node.grad_norm:.3g}")
    return lines


def _box_size(lines):
    return max(len(s) for s in lines) * _CHAR_W + 2 * _PAD, len(lines) * _LINE_H + _PAD


def _edge_path(points):
    """An SVG path through ``points``: vertical inside a dummy, S-curves between layers."""
    d = f"M{points[0][0]:.1f},{points[0][1]:.1f}"
    for (ax, ay), (bx, by) in zip(points, points[1:]):
        if ax == bx:
            d += f" L{bx:.1f},{by:.1f}"
        else:
            bend = max((by - ay) / 2, 12)
            d += f" C{ax:.1f},{ay + bend:.1f} {bx:.1f},{by - bend:.1f} {bx:.1f},{by:.1f}"
    return d


def to_svg(graph, title=None):
    """The SVG document (a string) of ``graph``: boxes, curved arrows and a colour legend."""
    place, routes = layered_layout(graph)
    heats = heat(graph)
    texts = {n.index: node_text(n) for n in graph.nodes}
    sizes = {i: _box_size(t) for i, t in texts.items()}
    rows = {}
    for key, (layer, pos) in place.items():
        rows.setdefault(layer, []).append((pos, key))
    row_heights = {k: max([sizes[i][1] for _, i in r if i in sizes], default=_LINE_H) for k, r in rows.items()}
    sizes.update({key: (_DUMMY_W, row_heights[place[key][0]]) for key in place if key not in sizes})
    row_widths = {k: sum(sizes[i][0] for _, i in r) + _GAP_X * (len(r) - 1) for k, r in rows.items()}
    width = max(row_widths.values(), default=0) + 2 * _GAP_X
    top = _GAP_Y / 2 + (24 if title else 0)
    xy = {}
    y = top
    for k in sorted(rows):
        x = (width - row_widths[k]) / 2
        for _, key in sorted(rows[k]):
            w, h = sizes[key]
            xy[key] = (x, y, w, h)
            x += w + _GAP_X
        y += row_heights[k] + _GAP_Y
    legend = 30 if heats else 0
    height = y - _GAP_Y / 2 + legend
    width = max(width, 260)
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0f}" height="{height:.0f}" '
           f'viewBox="0 0 {width:.0f} {height:.0f}" font-family="monospace" font-size="11">',
           '<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" '
           'markerHeight="7" orient="auto"><path d="M0,0 L10,5 L0,10 z" fill="#555"/></marker></defs>']
    if title:
        out.append(f'<text x="{_GAP_X}" y="18" font-size="13">{escape(title)}</text>')
    for k, (s, d) in enumerate(graph.edges):
        x0, y0, w0, h0 = xy[s]
        x1, y1, w1, _ = xy[d]
        points = [(x0 + w0 / 2, y0 + h0)]
        for key in routes[k]:
            x, y, w, h = xy[key]
            points += [(x + w / 2, y), (x + w / 2, y + h)]
        points.append((x1 + w1 / 2, y1))
        out.append(f'<path class="edge" data-source="{s}" data-target="{d}" d="{_edge_path(points)}" '
                   'fill="none" stroke="#555" marker-end="url(#arrow)"/>')
    for n in graph.nodes:
        x, y, w, h = xy[n.index]
        t = heats.get(n.index)
        fill = heat_color(t) if t is not None else _NO_GRADIENT
        ink = "#000" if t is None or t > 0.45 else "#fff"
        radius = 10 if n.kind == "leaf" else 3
        dash = ' stroke-dasharray="4,2"' if n.kind == "module" else ""
        out.append(f'<g class="node {n.kind}" data-index="{n.index}">'
                   f'<title>{escape(" | ".join(texts[n.index]))}</title>'
                   f'<rect x="{x:.1f}" y="{y:.1f}" width="{w:.1f}" height="{h:.1f}" rx="{radius}" '
                   f'fill="{fill}" stroke="#333"{dash}/>')
        for k, line in enumerate(texts[n.index]):
            out.append(f'<text x="{x + w / 2:.1f}" y="{y + _PAD / 2 + (k + 0.8) * _LINE_H:.1f}" '
                       f'text-anchor="middle" fill="{ink}">{escape(line)}</text>')
        out.append("</g>")
    if heats:
        out.append(_legend(graph, height - legend + 4))
    out.append("</svg>")
    return "\n".join(out)


def _legend(graph, y):
    norms = [n.grad_norm for n in graph.nodes if n.grad_norm]
    low, high = (min(norms), max(norms)) if norms else (0.0, 0.0)
    parts = [f'<text x="{_GAP_X}" y="{y + 12}">|grad| {low:.2g}</text>']
    for k in range(20):
        parts.append(f'<rect x="{_GAP_X + 90 + 6 * k}" y="{y + 2}" width="6" height="12" '
                     f'fill="{heat_color(k / 19)}"/>')
    parts.append(f'<text x="{_GAP_X + 220}" y="{y + 12}">{high:.2g} (log scale)</text>')
    return "\n".join(parts)
