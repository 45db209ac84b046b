#!/usr/bin/python3
"""Writes the model files the experiment servers load at start, into one directory.

usage: make_models.py DIR NAME...    NAME: sklearn torch node kserve tiny sweep

  sklearn  sk-model.pkl: a scikit-learn LogisticRegression (16 features), pickled, as
           test-harness/real/sk_app.py loads it; and sk-model.json: {"coef_range":
           "LOW-HIGH"}, the file offsets of the pickled coefficients (float64), for a corrupt
           rule's `offset` (the pickle is not a format the library parses for tensors)
  torch    model.pt: test-harness/real/torch_server.py's model (torch.save)
  node     node.bin: node_model.js's weights
  kserve   kserve.bin: kserve_server.py's weights
  tiny     tiny.bin: tinylm.py's weights (openai, cache and lying servers)
  sweep    sweep.pt: sweep_server.py's model (torch.save)
Prints one JSON line: {NAME: PATH}. Exit 2 on usage errors; a missing package fails.
"""

import json
import os
import pickle
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
REAL = os.path.join(HERE, "..", "real")
PY = "/usr/bin/python3"


def sklearn(d):
    from sklearn.datasets import make_classification
    from sklearn.linear_model import LogisticRegression

    x, y = make_classification(n_samples=300, n_features=16, random_state=0)
    model = LogisticRegression(max_iter=500).fit(x, y)
    path = os.path.join(d, "sk-model.pkl")
    with open(path, "wb") as f:
        pickle.dump(model, f)
    raw = open(path, "rb").read()
    coef = model.coef_.tobytes()
    low = raw.find(coef)
    if low < 0 or raw.find(coef, low + 1) >= 0:
        raise RuntimeError("the coefficients are not once in the pickle as raw bytes")
    with open(os.path.join(d, "sk-model.json"), "w") as f:
        json.dump({"coef_range": "%d-%d" % (low, low + len(coef))}, f)
    return path


def made_by(d, name, argv):
    """d/name, written by the server's own maker: argv, then the path."""
    path = os.path.join(d, name)
    subprocess.run(argv + [path], check=True)
    return path


def torch(d):
    return made_by(d, "model.pt", [PY, os.path.join(REAL, "torch_server.py"), "make"])


def node(d):
    return made_by(d, "node.bin", ["/usr/bin/node", os.path.join(HERE, "node_model.js"),
                                   "--make"])


def kserve(d):
    return made_by(d, "kserve.bin", [PY, os.path.join(HERE, "kserve_server.py"), "--make"])


def tiny(d):
    sys.path.insert(0, HERE)
    import tinylm

    path = os.path.join(d, "tiny.bin")
    tinylm.make(path)
    return path


def sweep(d):
    return made_by(d, "sweep.pt", [PY, os.path.join(HERE, "sweep_server.py"), "make"])


MAKERS = {"sklearn": sklearn, "torch": torch, "node": node, "kserve": kserve, "tiny": tiny,
          "sweep": sweep}


def main():
    if len(sys.argv) < 3 or not set(sys.argv[2:]) <= set(MAKERS):
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        return 2
    d = sys.argv[1]
    os.makedirs(d, exist_ok=True)
    print(json.dumps({name: MAKERS[name](d) for name in sys.argv[2:]}))
    return 0


if __name__ == "__main__":
    sys.dont_write_bytecode = True
    sys.exit(main())
