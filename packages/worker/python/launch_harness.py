"""Launch's Python harness: runs a `cloudpickle_artifact` or Python `zip_artifact` bundle as a small
HTTP model server, per `bundles.md` section 3.

The worker starts it with the host's interpreter (the `LAUNCH_PYTHON` setting) and the bundle's
description in the `LAUNCH_HARNESS_SPEC` environment variable (JSON):

    {"kind": "cloudpickle" | "zip", "artifact": "<pickle file or unpacked zip directory>",
     "load_model_fn": "a.b.fn", "load_predict_fn": "a.b.fn",       # zip only: module paths
     "app_config": {...} | null, "requirements": ["pkg==1.0", ...],
     "venv_dir": "<where a per-bundle virtualenv may be made>" | null,
     "install_timeout_seconds": 300}

It checks the requirements (installing missing ones into a per-bundle virtualenv when a package index
answers, then re-running itself there), loads the model, and only then listens on $PORT:

    GET  /readyz   -> 200 once the model is loaded
    POST /predict  {"args": ..., "url": ..., "return_pickled": bool}
                   -> 200 {"ok": true, "output": <JSON value>}
                    | 200 {"ok": true, "pickled": "<base64 of the cloudpickled output>"}
                    | 200 {"ok": false, "error": "<message>", "traceback": "<Python traceback>"}

Lines starting with "launch-harness:" on stderr are the harness's own notes; the worker reads the last
one to explain a crash (a bundle pickled under another Python minor version can crash the interpreter
while it is unpickled, before any Python error can be raised).
"""

import base64
import fcntl
import importlib
import io
import json
import opcode
import os
import pickle
import re
import shutil
import subprocess
import sys
import threading
import traceback
import types
import urllib.parse
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PYTHON_VERSION = "%d.%d.%d" % sys.version_info[:3]
PYTHON_MINOR = "%d.%d" % sys.version_info[:2]
NO_INPUT = "Input needs either url or args."
URL_TIMEOUT_SECONDS = 60
EXIT_LOAD_FAILED = 3
EXIT_REQUIREMENTS = 4


def note(message):
    sys.stderr.write("launch-harness: %s\n" % message)
    sys.stderr.flush()


def fail_start(message, code=EXIT_LOAD_FAILED):
    """Explains why the model cannot start, as the last stderr line, and exits."""
    note("error: " + message)
    sys.exit(code)


# --- requirements -------------------------------------------------------------------------------

REQUIREMENT_NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)")


def requirement_satisfied(requirement):
    """Whether a distribution of that name is installed at a version the specifier accepts."""
    from importlib import metadata

    match = REQUIREMENT_NAME.match(requirement)
    if not match:
        return False
    try:
        installed = metadata.version(match.group(1))
    except metadata.PackageNotFoundError:
        return False
    specifier = requirement[match.end() :]
    specifier = specifier.split(";", 1)[0].strip()
    if not specifier or specifier.startswith("["):
        return True
    try:
        from packaging.specifiers import SpecifierSet
    except ImportError:
        try:
            from pip._vendor.packaging.specifiers import SpecifierSet
        except ImportError:
            return True  # cannot compare versions here: an installed package is good enough
    try:
        return SpecifierSet(specifier).contains(installed, prereleases=True)
    except Exception:
        return True


def install_requirements(venv_dir, python, missing, timeout):
    """Makes the virtualenv afresh (a half-made one from a crash is removed first) and installs `missing`."""
    note("installing %s into the per-bundle virtualenv %s" % (", ".join(missing), venv_dir))
    try:
        if os.path.exists(venv_dir):
            shutil.rmtree(venv_dir)
        subprocess.run(
            [sys.executable, "-m", "venv", "--system-site-packages", venv_dir],
            check=True, capture_output=True, text=True, timeout=timeout,
        )
        subprocess.run(
            [python, "-m", "pip", "install", "--disable-pip-version-check", "--no-input", "-q",
             "--retries", "1", "--timeout", "15", *missing],
            check=True, capture_output=True, text=True, timeout=timeout,
        )
    except subprocess.TimeoutExpired:
        fail_start(
            "installing the bundle's requirements took more than %d s (no package index answered?); "
            "missing: %s" % (timeout, ", ".join(missing)),
            EXIT_REQUIREMENTS,
        )
    except subprocess.CalledProcessError as error:
        detail = (error.stderr or error.stdout or "").strip().splitlines()
        last = detail[-1] if detail else "exit code %s" % error.returncode
        fail_start(
            "the bundle requires packages that are not installed on this host and could not be "
            "installed (is a package index reachable?): %s. pip said: %s" % (", ".join(missing), last),
            EXIT_REQUIREMENTS,
        )
    except OSError as error:
        fail_start("could not create the virtualenv %s: %s" % (venv_dir, error), EXIT_REQUIREMENTS)


def ensure_requirements(spec):
    requirements = [r for r in (spec.get("requirements") or []) if isinstance(r, str) and r.strip()]
    missing = [r for r in requirements if not requirement_satisfied(r)]
    if not missing:
        return
    if os.environ.get("LAUNCH_HARNESS_IN_VENV") == "1":
        fail_start(
            "the bundle's requirements are still missing after installing them into %s: %s"
            % (sys.prefix, ", ".join(missing)),
            EXIT_REQUIREMENTS,
        )
    venv_dir = spec.get("venv_dir")
    if not venv_dir:
        fail_start(
            "the bundle requires packages that are not installed for %s and no virtualenv directory "
            "was given to install them: %s" % (sys.executable, ", ".join(missing)),
            EXIT_REQUIREMENTS,
        )
    python = os.path.join(venv_dir, "bin", "python")
    timeout = float(spec.get("install_timeout_seconds") or 300)
    marker = os.path.join(venv_dir, ".launch-installed")
    os.makedirs(os.path.dirname(venv_dir) or ".", exist_ok=True)
    # Workers of one bundle on this host share its virtualenv: one installs while the others wait.
    with open(venv_dir + ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not os.path.exists(marker):
            install_requirements(venv_dir, python, missing, timeout)
            with open(marker, "w") as done:
                done.write("\n".join(missing) + "\n")
    note("requirements installed; restarting under %s" % python)
    env = dict(os.environ, LAUNCH_HARNESS_IN_VENV="1")
    os.execve(python, [python, "-u", os.path.abspath(__file__)], env)


# --- loading ------------------------------------------------------------------------------------

_CACHES = getattr(opcode, "_inline_cache_entries", None)


def _cache_entries(op):
    if isinstance(_CACHES, dict):  # Python 3.13+: by name
        return _CACHES.get(opcode.opname[op], 0)
    return _CACHES[op] if _CACHES else 0


def bytecode_problem(raw):
    """Why `raw` (a code object's bytes as pickled) is not bytecode of this interpreter, or None.

    The pickled bytes are checked before the code object is built: once built, the interpreter
    normalises them, and running another version's bytecode can crash it outright."""
    i, n = 0, len(raw)
    while i < n:
        op = raw[i]
        if opcode.opname[op].startswith("<"):
            return "unknown opcode %d at offset %d" % (op, i)
        i += 2
        for _ in range(_cache_entries(op)):
            if i + 1 >= n or raw[i] != 0 or raw[i + 1] != 0:
                return "unexpected bytes after %s at offset %d" % (opcode.opname[op], i)
            i += 2
    return None


class VersionMismatch(Exception):
    pass


def _checked_code(*args):
    if len(args) > 6 and isinstance(args[6], bytes):
        problem = bytecode_problem(args[6])
        if problem:
            raise VersionMismatch("its bytecode is not Python %s bytecode (%s)" % (PYTHON_MINOR, problem))
    return types.CodeType(*args)


class CheckingUnpickler(pickle.Unpickler):
    """A cloudpickle load that checks every code object's bytecode against this interpreter."""

    def find_class(self, module, name):
        found = super().find_class(module, name)
        if found is types.CodeType:
            return _checked_code
        if name == "_builtin_type" and module.startswith("cloudpickle"):
            def builtin_type(type_name):
                built = found(type_name)
                return _checked_code if built is types.CodeType else built

            return builtin_type
        return found


def load_cloudpickle(spec):
    try:
        import cloudpickle
    except ImportError:
        fail_start(
            "cloudpickle is not importable by %s (Python %s); install it on this host or set "
            "LAUNCH_PYTHON to an interpreter that has it" % (sys.executable, PYTHON_VERSION)
        )
    path = spec["artifact"]
    with open(path, "rb") as handle:
        data = handle.read()
    note("unpickling %s under Python %s" % (path, PYTHON_VERSION))
    try:
        loaded = CheckingUnpickler(io.BytesIO(data)).load()
    except Exception as error:
        traceback.print_exc()
        fail_start(
            "the bundle could not be unpickled under Python %s (%s: %s). A cloudpickle bundle must run "
            "under the same Python minor version that pickled it, so it was most likely pickled under "
            "another Python minor version than %s; set LAUNCH_PYTHON to a matching interpreter"
            % (PYTHON_VERSION, type(error).__name__, error, PYTHON_MINOR)
        )
    note("unpickled")
    app_config = spec.get("app_config")
    if not isinstance(loaded, dict):
        if not callable(loaded):
            fail_start("the pickle is neither a dict of loaders nor a callable (got %s)" % type(loaded).__name__)
        return loaded
    load_predict_fn = loaded.get("load_predict_fn")
    if not callable(load_predict_fn):
        fail_start("the pickled dict has no callable load_predict_fn (keys: %s)" % ", ".join(sorted(map(str, loaded))))
    if "model" in loaded and loaded.get("load_model_fn") is None:
        model = loaded["model"]
    else:
        load_model_fn = loaded.get("load_model_fn")
        if not callable(load_model_fn):
            fail_start("the pickled dict needs a callable load_model_fn or a model")
        model = run_loader("load_model_fn", lambda: load_model_fn(app_config) if app_config is not None else load_model_fn())
    if app_config is not None:
        return run_loader("load_predict_fn", lambda: load_predict_fn(app_config, model))
    return run_loader("load_predict_fn", lambda: load_predict_fn(model))


def import_function(dotted, field):
    module_name, _, attribute = dotted.rpartition(".")
    if not module_name or not attribute:
        fail_start('%s must be "module.function" (got %r)' % (field, dotted))
    try:
        module = importlib.import_module(module_name)
    except Exception as error:
        traceback.print_exc()
        fail_start("%s: could not import module %s: %s: %s" % (field, module_name, type(error).__name__, error))
    function = getattr(module, attribute, None)
    if not callable(function):
        fail_start("%s: module %s has no function %s" % (field, module_name, attribute))
    return function


def load_zip(spec):
    directory = spec["artifact"]
    sys.path.insert(0, directory)
    load_model_fn = import_function(spec.get("load_model_fn") or "", "load_model_fn_module_path")
    load_predict_fn = import_function(spec.get("load_predict_fn") or "", "load_predict_fn_module_path")
    app_config = spec.get("app_config")
    model = run_loader("load_model_fn", lambda: load_model_fn(app_config))
    return run_loader("load_predict_fn", lambda: load_predict_fn(app_config, model))


def run_loader(name, call):
    try:
        return call()
    except Exception as error:
        traceback.print_exc()
        fail_start("%s raised %s: %s" % (name, type(error).__name__, error))


# --- serving ------------------------------------------------------------------------------------

def run_predict(predict, request):
    """One task, per bundles.md section 3. Returns the reply object."""
    try:
        url = request.get("url")
        args = request.get("args")
        if url:
            # Only the web: file: and other schemes would read this host's files.
            if not isinstance(url, str) or urllib.parse.urlsplit(url).scheme not in ("http", "https"):
                return {"ok": False, "error": "url must be an http or https URL", "traceback": None}
            with urllib.request.urlopen(url, timeout=URL_TIMEOUT_SECONDS) as response:
                output = predict(response.read())
        elif args is not None:
            if not isinstance(args, dict):
                return {
                    "ok": False,
                    "error": "args must be a JSON object, passed to predict as keyword arguments (got %s)"
                    % json_type(args),
                    "traceback": None,
                }
            output = predict(**args)
        else:
            return {"ok": False, "error": NO_INPUT, "traceback": None}
    except Exception as error:
        return {"ok": False, "error": str(error) or type(error).__name__, "traceback": traceback.format_exc()}
    if request.get("return_pickled"):
        try:
            import cloudpickle

            return {"ok": True, "pickled": base64.b64encode(cloudpickle.dumps(output)).decode("ascii")}
        except Exception as error:
            return {"ok": False, "error": "the output could not be pickled: %s" % error, "traceback": traceback.format_exc()}
    try:
        json.dumps(output)
    except (TypeError, ValueError) as error:
        return {
            "ok": False,
            "error": "the model's output is not JSON-serialisable: %s (%s)" % (type(output).__name__, error),
            "traceback": None,
        }
    return {"ok": True, "output": output}


def json_type(value):
    if isinstance(value, list):
        return "an array"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    return type(value).__name__


def make_handler(predict):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):  # no access log: the worker keeps stdout for the model
            pass

        def reply(self, status, payload):
            body = json.dumps(payload, separators=(",", ":")).encode("utf-8")
            self.send_response(status)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self):
            if self.path in ("/readyz", "/healthz", "/health"):
                self.reply(200, {"status": "ok"})
            else:
                self.reply(404, {"detail": "Not Found"})

        def do_POST(self):
            length = int(self.headers.get("content-length") or 0)
            raw = self.rfile.read(length) if length else b""
            if self.path != "/predict":
                self.reply(404, {"detail": "Not Found"})
                return
            try:
                request = json.loads(raw or b"{}")
                if not isinstance(request, dict):
                    raise ValueError("the request body must be a JSON object")
            except ValueError as error:
                self.reply(400, {"ok": False, "error": "bad request to the harness: %s" % error, "traceback": None})
                return
            self.reply(200, run_predict(predict, request))

    return Handler


def main():
    raw = os.environ.get("LAUNCH_HARNESS_SPEC")
    if not raw:
        fail_start("LAUNCH_HARNESS_SPEC is not set: this program is started by a Launch worker")
    spec = json.loads(raw)
    ensure_requirements(spec)
    predict = load_cloudpickle(spec) if spec.get("kind") == "cloudpickle" else load_zip(spec)
    if not callable(predict):
        fail_start("load_predict_fn returned %s, not a callable" % type(predict).__name__)
    port = int(os.environ.get("PORT") or 5005)
    server = ThreadingHTTPServer(("127.0.0.1", port), make_handler(predict))
    server.daemon_threads = True
    note("model loaded; listening on 127.0.0.1:%d (Python %s)" % (port, PYTHON_VERSION))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
