"""A small float32 ONNX model written with a minimal protobuf writer (no onnx package): the
real-onnx test's model, and numpy's answer for it, against which the server's answers are
checked (clean, and with the damage the event log lists applied to the weights).

The model: Y = Relu(X @ W1 + B1) @ W2 + B2, X of shape [1, IN]; W1 holds 64 KiB, across
pages and reads; B1, W2 and B2 are smaller. Every initializer is FLOAT with raw_data, W2 is
written as packed float_data (both kinds of data the recogniser maps)."""


import numpy as np

IN, HIDDEN, OUT = 64, 256, 8
IR_VERSION, OPSET = 8, 13
FLOAT = 1


def varint(v):
    out = bytearray()
    while True:
        b = v & 0x7F
        v >>= 7
        if v:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def field_varint(num, v):
    return varint(num << 3) + varint(v)


def field_bytes(num, data):
    if isinstance(data, str):
        data = data.encode()
    return varint(num << 3 | 2) + varint(len(data)) + data


def tensor(name, arr, packed_floats=False):
    """TensorProto: dims (1), data_type (2), name (8), raw_data (9) or float_data (4)."""
    arr = np.ascontiguousarray(arr, dtype="<f4")
    out = b"".join(field_varint(1, d) for d in arr.shape)
    out += field_varint(2, FLOAT) + field_bytes(8, name)
    return out + field_bytes(4 if packed_floats else 9, arr.tobytes())


def external_tensor(name, arr, location, offset):
    """TensorProto whose data lie in the file location at offset (data_location EXTERNAL)."""
    arr = np.ascontiguousarray(arr, dtype="<f4")
    out = b"".join(field_varint(1, d) for d in arr.shape)
    out += field_varint(2, FLOAT) + field_bytes(8, name)
    for key, value in (("location", location), ("offset", str(offset)),
                       ("length", str(arr.nbytes))):
        out += field_bytes(13, field_bytes(1, key) + field_bytes(2, value))
    return out + field_varint(14, 1)


def value_info(name, dims):
    """ValueInfoProto: name, TypeProto.tensor_type (elem_type, shape)."""
    shape = b"".join(field_bytes(1, field_varint(1, d)) for d in dims)
    tensor_type = field_varint(1, FLOAT) + field_bytes(2, shape)
    return field_bytes(1, name) + field_bytes(2, field_bytes(1, tensor_type))


def node(op, inputs, outputs):
    return (b"".join(field_bytes(1, i) for i in inputs) +
            b"".join(field_bytes(2, o) for o in outputs) + field_bytes(4, op))


def weights(seed):
    rng = np.random.default_rng(seed)
    return {
        "W1": (rng.standard_normal((IN, HIDDEN)) / 8).astype(np.float32),
        "B1": (rng.standard_normal(HIDDEN) / 8).astype(np.float32),
        "W2": (rng.standard_normal((HIDDEN, OUT)) / 16).astype(np.float32),
        "B2": (rng.standard_normal(OUT) / 16).astype(np.float32),
    }


def model_bytes(w, external=None):
    """The model; external: {name: (location, offset)} of the initializers kept outside."""
    external = external or {}
    nodes = [node("MatMul", ["X", "W1"], ["h1"]), node("Add", ["h1", "B1"], ["h2"]),
             node("Relu", ["h2"], ["h3"]), node("MatMul", ["h3", "W2"], ["h4"]),
             node("Add", ["h4", "B2"], ["Y"])]
    graph = b"".join(field_bytes(1, n) for n in nodes) + field_bytes(2, "mlp")
    for name in ("W1", "B1", "W2", "B2"):
        if name in external:
            graph += field_bytes(5, external_tensor(name, w[name], *external[name]))
        else:
            graph += field_bytes(5, tensor(name, w[name], packed_floats=name == "W2"))
    graph += field_bytes(11, value_info("X", [1, IN])) + field_bytes(12, value_info("Y", [1, OUT]))
    opset = field_bytes(1, "") + field_varint(2, OPSET)
    return (field_varint(1, IR_VERSION) + field_bytes(2, "mlchaos-test") +
            field_bytes(7, graph) + field_bytes(8, opset))


def forward(w, x):
    """numpy's answer, in float32 as onnxruntime computes it (up to summation order)."""
    h = np.maximum(x.astype(np.float32) @ w["W1"] + w["B1"], np.float32(0))
    return h @ w["W2"] + w["B2"]


def as_bits(arr):
    return np.frombuffer(np.ascontiguousarray(arr, dtype="<f4").tobytes(), dtype="<u4")


def from_bits(bits, shape):
    return np.frombuffer(np.asarray(bits, dtype="<u4").tobytes(), dtype="<f4").reshape(shape)


def write(path, seed=5):
    w = weights(seed)
    with open(path, "wb") as f:
        f.write(model_bytes(w))
    return w


def write_external(path, location, seed=5):
    """The model at path with W1 and B1 in the file location beside it (W1 at 0, B1 after a
    gap at 69632) and W2, B2 inside it."""
    import os
    w = weights(seed)
    data = bytearray(w["W1"].tobytes())
    data += bytes(69632 - len(data))
    data += w["B1"].tobytes()
    with open(os.path.join(os.path.dirname(path), location), "wb") as f:
        f.write(data)
    with open(path, "wb") as f:
        f.write(model_bytes(w, {"W1": (location, 0), "B1": (location, 69632)}))
    return w


if __name__ == "__main__":
    import sys
    write(sys.argv[1])
