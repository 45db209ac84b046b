"""mlchaos_request: tells libmlchaos.so which request a Python server is working on.

The library finds a request's key by itself in what a server reads from its sockets, and
charges a call not made on a socket (an allocation, a file read, a sleep) to the request the
thread is working on. A thread with several requests in flight (an event loop) has no single
request, and such calls are not attributed. A server that knows its requests can say which one
it is working on: these adapters call the library's entry point

    void mlchaos_request_key(const char *key, size_t len);   /* NULL clears */

(version 1, found with dlsym in the process's global scope; without the library preloaded they
do nothing and cost one dict lookup per request). The key set wins over the sniffed one for
the calls of the thread that set it, until it is cleared. Standard library only (ctypes).

What is covered, exactly:
  RequestKeyASGI(app)  every step of the request's coroutine (the application's, and every
                       coroutine it awaits), on the event loop's thread: the synchronous
                       stretches between awaits, such as an inline forward pass. Not covered:
                       tasks the request creates (asyncio.create_task) and threads it hands
                       work to, unless that work goes through keyed() or KeyedExecutor.
  RequestKeyWSGI(app)  the application call and the iteration of its response body, on the
                       thread the WSGI server runs them on (threaded servers: wsgiref with a
                       ThreadingMixIn, gunicorn gthread).
  keyed(fn)            fn called anywhere (a worker thread of run_in_executor, anyio's
                       to_thread, a thread pool) runs under the key of the request that was
                       current where keyed() was called.
  KeyedExecutor        a ThreadPoolExecutor whose tasks run under the key of the request that
                       submitted them: loop.set_default_executor(KeyedExecutor()) makes
                       loop.run_in_executor(None, fn) carry the key.
  current_key          a contextvars.ContextVar holding the request's key (bytes or None).
Work that a native library hands to its own threads (PyTorch's or ONNX Runtime's intra-op
pool) runs without a key: its calls are never selected by request.
"""

import concurrent.futures
import contextvars
import ctypes
import functools

__all__ = ["RequestKeyASGI", "RequestKeyWSGI", "KeyedExecutor", "keyed", "current_key",
           "set_key", "available"]

current_key = contextvars.ContextVar("mlchaos_request_key", default=None)


def _entry():
    """The library's mlchaos_request_key, or None when the library is not in the process."""
    try:
        fn = ctypes.CDLL(None).mlchaos_request_key
    except (AttributeError, OSError):
        return None
    fn.argtypes = [ctypes.c_char_p, ctypes.c_size_t]
    fn.restype = None
    return fn


_set = _entry()


def available():
    """True when libmlchaos.so is in the process and takes keys."""
    return _set is not None


def set_key(key):
    """Sets (bytes or str) or clears (None) the calling thread's key."""
    if _set is None:
        return
    if key is None:
        _set(None, 0)
        return
    if isinstance(key, str):
        key = key.encode("utf-8", "surrogateescape")
    _set(key, len(key))


def keyed(fn):
    """fn, run under the current request's key wherever it is called."""
    key = current_key.get()
    if _set is None or key is None:
        return fn

    @functools.wraps(fn)
    def run(*args, **kwargs):
        set_key(key)
        try:
            return fn(*args, **kwargs)
        finally:
            set_key(None)

    return run


class KeyedExecutor(concurrent.futures.ThreadPoolExecutor):
    """A thread pool whose tasks carry the key of the request that submitted them."""

    def submit(self, fn, /, *args, **kwargs):
        return super().submit(keyed(fn), *args, **kwargs)


class _Keyed:
    """Drives coroutine coro one step at a time, its key set for each step and cleared after,
    so that whatever runs between its steps (other requests) runs without it."""

    __slots__ = ("coro", "key")

    def __init__(self, coro, key):
        self.coro, self.key = coro, key

    def __await__(self):
        coro, key = self.coro, self.key
        value, error = None, None
        while True:
            set_key(key)
            try:
                if error is not None:
                    step = coro.throw(error)
                else:
                    step = coro.send(value)
            except StopIteration as done:
                return done.value
            finally:
                set_key(None)
            try:
                value, error = (yield step), None
            except BaseException as e:  # noqa: B902 (cancellation is handed on)
                value, error = None, e


def _header(headers, name):
    for k, v in headers:
        if k.lower() == name:
            return v
    return None


class RequestKeyASGI:
    """ASGI middleware: the request's header `header` (X-Request-Id by default) is its key."""

    def __init__(self, app, header="x-request-id"):
        self.app = app
        self.header = header.lower().encode("latin-1")

    async def __call__(self, scope, receive, send):
        key = None
        if _set is not None and scope.get("type") == "http":
            key = _header(scope.get("headers") or (), self.header)
        if key is None:
            return await self.app(scope, receive, send)

        async def run():
            current_key.set(key)
            return await self.app(scope, receive, send)

        return await _Keyed(run(), key)


class RequestKeyWSGI:
    """WSGI middleware: the request's header `header` (X-Request-Id by default) is its key."""

    def __init__(self, app, header="X-Request-Id"):
        self.app = app
        self.environ_key = "HTTP_" + header.upper().replace("-", "_")

    def __call__(self, environ, start_response):
        key = environ.get(self.environ_key) if _set is not None else None
        if key is None:
            return self.app(environ, start_response)
        key = key.encode("latin-1")
        token = current_key.set(key)
        set_key(key)
        try:
            body = self.app(environ, start_response)
        except BaseException:
            set_key(None)
            current_key.reset(token)
            raise
        set_key(None)
        current_key.reset(token)
        return _KeyedBody(body, key)


class _KeyedBody:
    """A WSGI response body whose iteration and close run under the request's key."""

    def __init__(self, body, key):
        self.body, self.key = body, key
        self.it = None

    def __iter__(self):
        return self

    def __next__(self):
        set_key(self.key)
        try:
            if self.it is None:
                self.it = iter(self.body)
            return next(self.it)
        finally:
            set_key(None)

    def close(self):
        close = getattr(self.body, "close", None)
        if close is not None:
            set_key(self.key)
            try:
                close()
            finally:
                set_key(None)
