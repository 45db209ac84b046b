#!/usr/bin/python3
"""A PyTorch model server in one of three shapes, for the request-attribution tests.

usage: attrib_server.py threaded|fastapi|fastapi-asgi READY

  threaded      ThreadingHTTPServer (a thread per connection, HTTP/1.1 keep-alive)
  fastapi       FastAPI on uvicorn with uvloop, the forward pass inline on the loop's thread
  fastapi-asgi  the same behind mlchaos_request.RequestKeyASGI (shim/adapters)

POST /predict {"x": [16 floats]} -> {"y": [4 floats]}: a forward pass of a small MLP (16 ->
256 -> 4, one thread), whose hidden activations are 1 KiB buffers. An exception while
serving (an allocation that failed) is answered 500. The port is written to READY once
listening. SIGTERM stops it.
"""

import json
import os
import signal
import sys

import torch

torch.set_num_threads(1)
torch.manual_seed(7)
MODEL = torch.nn.Sequential(torch.nn.Linear(16, 256), torch.nn.ReLU(), torch.nn.Linear(256, 4))
MODEL.eval()


def predict(body):
    x = torch.tensor([json.loads(body)["x"]], dtype=torch.float32)
    with torch.no_grad():
        return json.dumps({"y": MODEL(x)[0].tolist()}).encode()


def publish(ready, port):
    with open(ready + ".tmp", "w") as f:
        f.write(str(port))
    os.rename(ready + ".tmp", ready)


def threaded(ready):
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, fmt, *args):
            pass

        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            try:
                code, out = 200, predict(body)
            except Exception as e:  # noqa: BLE001 (an injected failure, answered)
                code, out = 500, json.dumps({"error": str(e)[:200]}).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(out)))
            self.end_headers()
            self.wfile.write(out)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    signal.signal(signal.SIGTERM, lambda *a: os._exit(0))
    publish(ready, server.server_address[1])
    server.serve_forever()


def fastapi(ready, adapter):
    import asyncio
    import socket

    import uvicorn
    from fastapi import FastAPI, Request
    from fastapi.responses import JSONResponse, Response

    app = FastAPI()

    @app.post("/predict")
    async def predict_route(request: Request):
        body = await request.body()
        try:
            return Response(predict(body), media_type="application/json")
        except Exception as e:  # noqa: BLE001 (an injected failure, answered)
            return JSONResponse({"error": str(e)[:200]}, status_code=500)

    served = app
    if adapter:
        sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..",
                                        "shim", "adapters"))
        import mlchaos_request
        if not mlchaos_request.available():
            sys.stderr.write("attrib_server: mlchaos_request_key is not in the process\n")
            sys.exit(3)
        served = mlchaos_request.RequestKeyASGI(app)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)  # connections wait in the backlog until the loop accepts them
    config = uvicorn.Config(served, loop="uvloop", http="h11", log_level="error",
                            access_log=False)
    server = uvicorn.Server(config)
    publish(ready, sock.getsockname()[1])
    asyncio.run(server.serve(sockets=[sock]))


def main():
    shape, ready = sys.argv[1], sys.argv[2]
    if shape == "threaded":
        threaded(ready)
    else:
        fastapi(ready, shape == "fastapi-asgi")


if __name__ == "__main__":
    main()
