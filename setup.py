"""pip's route into the project's CMake build: the extension bioprop._bioprop is the CMake target _bioprop
(python/CMakeLists.txt), built in build/pip (or $BIOPROP_CMAKE_BUILD_DIR, e.g. an existing build folder) with
the interpreter pip runs, and copied where setuptools installs the package."""
import os
import shutil
import subprocess
import sys
from pathlib import Path

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

ROOT = Path(__file__).resolve().parent


class CMakeBuild(build_ext):
    def build_extension(self, ext):
        build = Path(os.environ.get("BIOPROP_CMAKE_BUILD_DIR", ROOT / "build" / "pip")).resolve()
        configure = ["cmake", "-S", str(ROOT), "-B", str(build)]
        if not (build / "CMakeCache.txt").exists():  # an existing build folder keeps its own settings
            configure += ["-DCMAKE_BUILD_TYPE=Release", f"-DPython3_EXECUTABLE={sys.executable}"]
        subprocess.run(configure, check=True)
        subprocess.run(["cmake", "--build", str(build), "--target", "_bioprop", "-j", str(os.cpu_count() or 2)],
                       check=True)
        built = next((build / "python" / "bioprop").glob("_bioprop*.so"), None)
        if built is None:
            raise RuntimeError(f"CMake built no _bioprop module in {build}/python/bioprop "
                               "(pybind11, the Python headers or dlpack.h missing? scripts/install-deps.sh)")
        target = Path(self.get_ext_fullpath(ext.name))
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(built, target)


setup(ext_modules=[Extension("bioprop._bioprop", sources=[])], cmdclass={"build_ext": CMakeBuild})
