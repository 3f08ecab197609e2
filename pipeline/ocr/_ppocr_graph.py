"""PP-OCR's models with their hard-swish activations in two operators instead of four, for onnxruntime.

The exported PP-OCRv4 graphs (opset 12, which has no HardSwish) spell every ``x * relu6(x + 3) / 6`` as Add, Clip,
Mul and Div: four passes over the activations, which onnxruntime does not fuse, and which made elementwise work about
half of the recogniser's time (measured with onnxruntime's profiler). ``x * HardSigmoid(x)`` with alpha 1/6 and beta
1/2 is the same function in two passes, in the same opset: the recogniser runs ~12 % faster and its outputs differ by
less than 2e-6 (float rounding). The rewritten model lives only in memory; the files, and the SHA-256 recorded for
them, are the wheel's own.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path


def _scalar(consts: dict, name: str, value: float) -> bool:
    found = consts.get(name)
    return found is not None and found.size == 1 and abs(float(found.ravel()[0]) - value) < 1e-6


def _hard_swishes(graph, consts: dict) -> list[tuple[list, object]]:
    """Every Add(x, 3) → Clip(0, 6) → Mul(x, ·) → Div(6) chain whose inner results feed nothing else: (its four
    nodes, x's name)."""
    made_by = {out: node for node in graph.node for out in node.output}
    uses: dict[str, int] = {}
    for node in graph.node:
        for name in node.input:
            uses[name] = uses.get(name, 0) + 1
    found = []
    for div in graph.node:
        if div.op_type != "Div" or not _scalar(consts, div.input[1], 6.0):
            continue
        mul = made_by.get(div.input[0])
        if mul is None or mul.op_type != "Mul":
            continue
        for x, clipped in ((mul.input[0], mul.input[1]), (mul.input[1], mul.input[0])):
            clip = made_by.get(clipped)
            if clip is None or clip.op_type != "Clip" or len(clip.input) != 3:
                continue
            add = made_by.get(clip.input[0])
            if (add is not None and add.op_type == "Add" and add.input[0] == x and _scalar(consts, add.input[1], 3.0)
                    and _scalar(consts, clip.input[1], 0.0) and _scalar(consts, clip.input[2], 6.0)
                    and all(uses.get(n.output[0]) == 1 for n in (add, clip, mul))):
                found.append(([add, clip, mul, div], x))
                break
    return found


def _affines(graph, consts: dict, uses: dict) -> list[tuple[object, object, float, float]]:
    """Every Mul(·, s) → Add(·, b) pair with scalar s and b whose product feeds only the Add: (mul, add, s, b)."""
    made_by = {out: node for node in graph.node for out in node.output}
    found = []
    for add in graph.node:
        if add.op_type != "Add":
            continue
        bias = next((i for i in add.input if i in consts and consts[i].size == 1), None)
        mul = made_by.get(next((i for i in add.input if i != bias), ""))
        if bias is None or mul is None or mul.op_type != "Mul" or uses.get(mul.output[0], 0) != 1:
            continue
        scale = next((i for i in mul.input if i in consts and consts[i].size == 1), None)
        if scale is not None:
            found.append((mul, add, float(consts[scale].ravel()[0]), float(consts[bias].ravel()[0])))
    return found


def _fold_affines(graph, consts: dict, weights: dict) -> tuple[dict[str, str], set[str]]:
    """Fold each scalar affine (learnable affine blocks) into the convolution before it, or into a 1×1 convolution
    after it, exactly: W·s and B·s + b; or W·s and B + b·ΣW. Returns the inputs to rename and the nodes to drop."""
    made_by = {out: node for node in graph.node for out in node.output}
    uses: dict[str, int] = {}
    users: dict[str, list] = {}
    for node in graph.node:
        for name in node.input:
            uses[name] = uses.get(name, 0) + 1
            users.setdefault(name, []).append(node)
    rename: dict[str, str] = {}
    dropped: set[str] = set()
    for mul, add, s, b in _affines(graph, consts, uses):
        x = next(i for i in mul.input if not (i in consts and consts[i].size == 1))
        before, after = made_by.get(x), users.get(add.output[0], [])
        if before is not None and before.op_type == "Conv" and uses.get(x) == 1 and _foldable(before, weights):
            w, bias = _conv_params(before, weights)
            _set_conv(before, weights, w * s, bias * s + b)
            rename[add.output[0]] = x
        elif len(after) == 1 and after[0].op_type == "Conv" and _pointwise(after[0]) and _foldable(after[0], weights):
            w, bias = _conv_params(after[0], weights)
            _set_conv(after[0], weights, w * s, bias + b * w.sum(axis=(1, 2, 3)))
            rename[add.output[0]] = x
        else:
            continue
        dropped.update((mul.output[0], add.output[0]))
    return rename, dropped


def _pointwise(conv) -> bool:
    kernel = next((list(a.ints) for a in conv.attribute if a.name == "kernel_shape"), None)
    return kernel == [1, 1]


def _foldable(conv, weights: dict) -> bool:
    """A convolution whose weights (and bias) are constants of its own."""
    return all(name in weights and weights[name][1] == 1 for name in conv.input[1:])


def _conv_params(conv, weights: dict):
    import numpy as np

    w = weights[conv.input[1]][0]
    bias = weights[conv.input[2]][0] if len(conv.input) > 2 else np.zeros(w.shape[0], dtype=w.dtype)
    return w, bias


def _set_conv(conv, weights: dict, w, bias) -> None:
    """New weights and bias for a convolution (a bias input is added when it had none)."""
    weights[conv.input[1]] = (w.astype("float32"), 1)
    if len(conv.input) < 3:
        conv.input.append(f"{conv.input[1]}_folded_bias")
    weights[conv.input[2]] = (bias.astype("float32"), 1)


@lru_cache(maxsize=4)
def fused_model(path: Path) -> bytes:
    """The model at ``path`` with its hard-swish chains as HardSigmoid and Mul and its scalar affines folded into
    convolutions, serialised (cached per process)."""
    import onnx
    from onnx import helper, numpy_helper

    model = onnx.load(str(path))
    graph = model.graph
    consts = {n.output[0]: numpy_helper.to_array(n.attribute[0].t) for n in graph.node
              if n.op_type == "Constant" and n.attribute and n.attribute[0].name == "value"}
    consts.update({i.name: numpy_helper.to_array(i) for i in graph.initializer})
    users: dict[str, int] = {}
    for node in graph.node:
        for name in node.input:
            users[name] = users.get(name, 0) + 1
    weights = {name: (value, users.get(name, 0)) for name, value in consts.items()}  # the export's weights are
    # Constant nodes
    before = {name: id(value) for name, (value, _) in weights.items()}
    rename, dropped = _fold_affines(graph, consts, weights)
    changed = {name: value for name, (value, _) in weights.items() if before.get(name) != id(value)}
    replaced: dict[str, list] = {}  # nodes are known by their output's name (protobuf hands out new wrappers)
    for chain, x in _hard_swishes(graph, consts):
        out = chain[-1].output[0]
        gate = helper.make_node("HardSigmoid", [x], [f"{out}_gate"], alpha=1 / 6, beta=0.5)
        replaced[out] = [gate, helper.make_node("Mul", [x, f"{out}_gate"], [out])]
        dropped.update(n.output[0] for n in chain[:-1])
    nodes = []
    for node in graph.node:
        if node.output[0] in replaced:
            nodes.extend(replaced[node.output[0]])
        elif node.output[0] not in dropped:
            nodes.append(node)
    copies = [helper.make_node("Constant", [], [name], value=numpy_helper.from_array(value, name))
              for name, value in changed.items()]  # new weights first: the nodes after them read them
    for node in nodes:  # copied first: clearing the field detaches the nodes it held
        if node.op_type == "Constant" and node.output[0] in changed:
            continue
        copy = onnx.NodeProto()
        copy.CopyFrom(node)
        for k, name in enumerate(copy.input):
            while name in rename:  # a folded affine's output: read its input instead
                name = rename[name]
            copy.input[k] = name
        copies.append(copy)
    used = {name for node in copies for name in node.input}
    copies = [n for n in copies if n.op_type != "Constant" or n.output[0] in used]  # the chains' constants
    del graph.node[:]
    graph.node.extend(copies)
    return model.SerializeToString()
