"""Build hook (all metadata is in pyproject.toml): the wheel carries the top-level robots/ and skills/ spec
folders as niljax/data/specs/{robots,skills}, where `niljax.data.spec_folder` finds them in an installed copy.
An editable install reads them from the checkout instead."""

from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

SPEC_FOLDERS = ("robots", "skills")


class BuildPyWithSpecs(build_py):
    def run(self) -> None:
        super().run()
        if self.editable_mode:
            return
        for name in SPEC_FOLDERS:
            src = Path(__file__).resolve().parent / name
            if src.is_dir():
                self.copy_tree(str(src), str(Path(self.build_lib) / "niljax" / "data" / "specs" / name))


setup(cmdclass={"build_py": BuildPyWithSpecs})
