"""A WSGI app serving a scikit-learn model (at $SK_MODEL: joblib.load for a *.joblib file,
pickle.load otherwise), for gunicorn workers.

  POST /predict  {"inputs": [[16 floats], ...]} -> {"pred": [...], "proba": [...], "pid": PID}
  GET /health    {"ok": true, "pid": PID}
The model is loaded in each worker, when the worker imports this module.
"""

import json
import os
import pickle

if os.environ["SK_MODEL"].endswith(".joblib"):
    import joblib

    MODEL = joblib.load(os.environ["SK_MODEL"])
else:
    with open(os.environ["SK_MODEL"], "rb") as _f:
        MODEL = pickle.load(_f)


def _reply(start_response, status, obj):
    body = json.dumps(obj).encode()
    start_response(status, [("Content-Type", "application/json"),
                            ("Content-Length", str(len(body)))])
    return [body]


def app(environ, start_response):
    path, method = environ.get("PATH_INFO", ""), environ.get("REQUEST_METHOD", "")
    if method == "GET" and path == "/health":
        return _reply(start_response, "200 OK", {"ok": True, "pid": os.getpid()})
    if method != "POST" or path != "/predict":
        return _reply(start_response, "404 Not Found", {"error": "not found"})
    try:
        n = int(environ.get("CONTENT_LENGTH") or 0)
        inputs = json.loads(environ["wsgi.input"].read(n))["inputs"]
        pred = MODEL.predict(inputs).tolist()
        proba = MODEL.predict_proba(inputs).tolist()
    except Exception as e:  # answered, never a crashed worker
        return _reply(start_response, "500 Internal Server Error",
                      {"error": f"{type(e).__name__}: {e}"})
    return _reply(start_response, "200 OK", {"pred": pred, "proba": proba, "pid": os.getpid()})
