"""The pyproject.toml packages the whole package: an sdist (and a wheel,
where the `wheel` package is installed) built from a copy of the project
holds every module and py.typed, and what it installs imports."""

from __future__ import annotations

import glob
import importlib.util
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import unittest
import zipfile

from _support import HERE

PROJECT = os.path.dirname(HERE)
MODULES = sorted(
    os.path.relpath(p, os.path.join(PROJECT, "src")).replace(os.sep, "/")
    for p in glob.glob(os.path.join(PROJECT, "src", "tokend", "*"))
    if p.endswith((".py", ".typed"))
)

BUILD = """
import sys
from setuptools import build_meta as b
out, kind = sys.argv[1], sys.argv[2]  # build_meta rewrites sys.argv
print(b.build_sdist(out))
if kind == "wheel":
    print(b.build_wheel(out))
"""


@unittest.skipUnless(importlib.util.find_spec("setuptools"), "setuptools is not installed")
class PackagingTest(unittest.TestCase):
    def test_sdist_and_wheel(self) -> None:
        tmp = tempfile.mkdtemp(prefix="tokend-pysdk-pkg-")
        self.addCleanup(shutil.rmtree, tmp, True)
        proj = os.path.join(tmp, "project")
        out = os.path.join(tmp, "dist")
        # a copy, so that the build's egg-info never lands in the source tree
        shutil.copytree(PROJECT, proj, ignore=shutil.ignore_patterns("tests", "__pycache__", "build", "*.egg-info"))
        wheel = "wheel" if importlib.util.find_spec("wheel") else "sdist"
        run = subprocess.run([sys.executable, "-c", BUILD, out, wheel], cwd=proj,
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.assertEqual(run.returncode, 0, run.stdout)

        (sdist,) = glob.glob(os.path.join(out, "*.tar.gz"))
        with tarfile.open(sdist) as tf:
            names = {n.split("/", 1)[1] for n in tf.getnames() if "/" in n}
        for m in MODULES:
            self.assertIn("src/" + m, names)
        self.assertIn("pyproject.toml", names)
        self.assertIn("README.md", names)

        if wheel == "wheel":
            whls = glob.glob(os.path.join(out, "*.whl"))
            self.assertEqual(len(whls), 1, run.stdout)
            whl = whls[0]
            with zipfile.ZipFile(whl) as zf:
                zf.extractall(os.path.join(tmp, "site"))
                self.assertTrue(set(MODULES) <= set(zf.namelist()), zf.namelist())
            site = os.path.join(tmp, "site")
        else:
            site = os.path.join(proj, "src")
        probe = subprocess.run(
            [sys.executable, "-I", "-c", "import sys; sys.path.insert(0, sys.argv[1]); import tokend; "
             "print(tokend.__file__); print(tokend.TokenManagement.__name__)", site],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )
        self.assertEqual(probe.returncode, 0, probe.stdout)
        self.assertTrue(probe.stdout.startswith(site), probe.stdout)


if __name__ == "__main__":
    unittest.main()
