"""Entry point of the Android build (buildozer packages this folder with main.py at its root).

Inside the package the folder's contents sit at the top level, so it is registered as the
`mobile` package first; the imports then work as they do in the repository.
"""

from __future__ import annotations

import importlib.util
import os
import sys

if "mobile" not in sys.modules:
    _here = os.path.dirname(os.path.abspath(__file__))
    _spec = importlib.util.spec_from_file_location(
        "mobile", os.path.join(_here, "__init__.py"), submodule_search_locations=[_here])
    _module = importlib.util.module_from_spec(_spec)
    sys.modules["mobile"] = _module
    _spec.loader.exec_module(_module)

from mobile.__main__ import main  # noqa: E402 - needs the registration above

if __name__ == "__main__":
    main()
