"""Ask pywb's own WSGI app (FrontEndApp, through WebTest) for paths, in a process of its own.

pywb monkey-patches the interpreter with gevent when its apps are imported, so the tests run this
as ``python -m tests.tools.pywb_get <folder> <path>...`` with the folder holding pywb's
``collections/`` (as ``wb-manager`` makes it). Prints one JSON list: for each path, the status,
the headers (as a list of pairs) and the body in base64.
"""
from __future__ import annotations

import base64
import json
import os
import sys


def main(argv: list[str]) -> None:
    folder, paths = argv[0], argv[1:]
    os.chdir(folder)
    from pywb.apps.frontendapp import FrontEndApp
    from webtest import TestApp

    app = TestApp(FrontEndApp())
    out = []
    for path in paths:
        r = app.get(path, status="*", expect_errors=True)
        out.append({"path": path, "status": r.status_int, "headers": list(r.headerlist),
                    "body": base64.b64encode(r.body).decode("ascii")})
    print(json.dumps(out))


if __name__ == "__main__":
    main(sys.argv[1:])
