#!/usr/bin/python3
"""The pickle and joblib recogniser (shim/formats/pickle.c) on files that pickle, joblib and
scikit-learn wrote, against what numpy says: each array's bytes, read at the range the map
gives, equal arr.tobytes(); the name is the array's path in the object; dtype and byte order
are numpy's. Protocol 2 (array data pickled as text) gives no tensor; compressed joblib files
are not recognised; object arrays are never tensors.

usage: test_pickle_real.py TENSORMAP   (the unit-tensormap program)
Exit 0 all checks held, 1 a check failed, 77 numpy or joblib is missing (Debian: python3-numpy,
python3-joblib)."""
import os
import pickle
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from mctest import check, finish, skip  # noqa: E402

try:
    import joblib
    import numpy as np
except ImportError:
    skip("numpy or joblib is not importable by /usr/bin/python3 (Debian: python3-joblib)")

# The map of a file (unit-tensormap, argv[1]) and a file's bytes, as the .npy and torch tests
# read them.
from test_formats_real import file_bytes, npy_dtype_name, tensormap  # noqa: E402


def check_arrays(path, what, fmt, arrays, aligned=False):
    """arrays: {expected name: ndarray}; the map must hold exactly those (non-empty ones)."""
    m = tensormap(path)
    check(m["result"] == 1 and m["format"] == fmt, f"{what}: recognised as {fmt} ({m})")
    by_name = {t["name"]: t for t in m["tensors"]}
    want = {k: a for k, a in arrays.items() if a.nbytes}
    check(sorted(by_name) == sorted(want), f"{what}: names {sorted(by_name)}, "
          f"expected {sorted(want)}")
    for name, arr in want.items():
        t = by_name.get(name)
        if t is None:
            continue
        # the pickle walker knows numpy's float dtypes only; any other is "other"
        dt = npy_dtype_name(arr.dtype) if arr.dtype.kind == "f" else "other"
        check(t["dtype"] == dt, f"{what} {name}: dtype {t['dtype']}, expected {dt}")
        big = arr.dtype.byteorder == ">" and arr.dtype.itemsize > 1
        check(t["big_endian"] == big, f"{what} {name}: big_endian {t['big_endian']}")
        check(t["len"] == arr.nbytes, f"{what} {name}: {t['len']} bytes, numpy {arr.nbytes}")
        order = "F" if arr.flags.f_contiguous and not arr.flags.c_contiguous else "C"
        check(file_bytes(path, t["off"], t["len"]) == arr.tobytes(order=order),
              f"{what} {name}: the range holds the array's bytes")
        if aligned:
            check(t["off"] % 16 == 0, f"{what} {name}: joblib aligned it ({t['off']})")


def test_plain(tmp):
    rng = np.random.default_rng(5)
    arrays = {
        "w": rng.standard_normal((3, 4)).astype("f4"),
        "layers[0]": rng.standard_normal(5).astype(">f8"),
        "layers[1]": rng.standard_normal((2, 2)).astype("f2"),
        "layers[2].bias": np.arange(3, dtype="i8"),
        "fortran": np.asfortranarray(rng.standard_normal((3, 2))),
        "scalar": np.array(1.5, dtype="f4"),
        "empty": np.zeros((0, 3), dtype="f4"),
    }
    obj = {"w": arrays["w"], "layers": [arrays["layers[0]"], arrays["layers[1]"],
                                        {"bias": arrays["layers[2].bias"]}],
           "fortran": arrays["fortran"], "scalar": arrays["scalar"], "empty": arrays["empty"],
           "objects": np.array([{"a": 1}, None], dtype=object), "note": "text"}
    for proto in (3, 4, 5):
        path = os.path.join(tmp, f"plain{proto}.pkl")
        with open(path, "wb") as f:
            pickle.dump(obj, f, protocol=proto)
        check_arrays(path, f"pickle protocol {proto}", "pickle", arrays)
    # An array alone has no path: its ordinal names it.
    path = os.path.join(tmp, "bare.pkl")
    with open(path, "wb") as f:
        pickle.dump(arrays["w"], f, protocol=5)
    check_arrays(path, "bare array", "pickle", {"array0": arrays["w"]})
    # Protocol 2 pickles the bytes as latin-1 text: no range holds them.
    path = os.path.join(tmp, "plain2.pkl")
    with open(path, "wb") as f:
        pickle.dump(obj, f, protocol=2)
    m = tensormap(path)
    check(m["result"] == 1 and m["tensors"] == [], f"protocol 2: no tensors ({m})")


def test_joblib(tmp):
    rng = np.random.default_rng(9)
    arrays = {"coef": rng.standard_normal((4, 3)), "be": rng.standard_normal(6).astype(">f4"),
              "parts[1]": np.arange(7, dtype="u1")}
    obj = {"coef": arrays["coef"], "be": arrays["be"],
           "parts": [np.array(["x", 2], dtype=object), arrays["parts[1]"]]}
    path = os.path.join(tmp, "model.joblib")
    joblib.dump(obj, path)
    check_arrays(path, "joblib", "joblib", arrays, aligned=True)
    path = os.path.join(tmp, "zlib.joblib")
    joblib.dump(obj, path, compress=3)
    m = tensormap(path)
    check(m["result"] == 0, f"compressed joblib: not recognised ({m})")


def tree_arrays(prefix, tree):
    state = tree.__getstate__()
    return {prefix + ".nodes": state["nodes"], prefix + ".values": state["values"],
            prefix + "[1]": tree.n_classes}


def test_sklearn(tmp):
    try:
        from sklearn.ensemble import RandomForestClassifier
        from sklearn.linear_model import LogisticRegression
    except ImportError:
        print("skip sklearn: not importable by /usr/bin/python3 (Debian: python3-sklearn)")
        return
    rng = np.random.default_rng(2)
    x = rng.standard_normal((60, 4))
    y = (x[:, 0] + x[:, 1] > 0).astype(int)
    lr = LogisticRegression().fit(x, y)
    lr_arrays = {"coef_": lr.coef_, "intercept_": lr.intercept_, "classes_": lr.classes_,
                 "n_iter_": lr.n_iter_}
    forest = RandomForestClassifier(n_estimators=3, max_depth=3, random_state=0).fit(x, y)
    rf_arrays = {"classes_": forest.classes_}
    for i, est in enumerate(forest.estimators_):
        rf_arrays[f"estimators_[{i}].classes_"] = est.classes_
        rf_arrays.update(tree_arrays(f"estimators_[{i}].tree_", est.tree_))
    for label, model, arrays in [("logistic", lr, lr_arrays), ("forest", forest, rf_arrays)]:
        path = os.path.join(tmp, label + ".pkl")
        with open(path, "wb") as f:
            pickle.dump(model, f)
        check_arrays(path, f"sklearn {label} pickle", "pickle", arrays)
        path = os.path.join(tmp, label + ".joblib")
        joblib.dump(model, path)
        check_arrays(path, f"sklearn {label} joblib", "joblib", arrays, aligned=True)


with tempfile.TemporaryDirectory(prefix="mlchaos-pickle-") as tmp:
    test_plain(tmp)
    test_joblib(tmp)
    test_sklearn(tmp)
sys.exit(finish("pickle-real"))
