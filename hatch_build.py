"""Wheel build hook (hatchling runs it): the repository's top-level templates/, static/ and
migrations/ go inside the package in the wheel, so `pip install .` gives a working app.
An editable install (`pip install -e .`) leaves them out: the checkout finds them where
they are (xcapp/resources.py), and no stale copies sit in site-packages."""
from hatchling.builders.hooks.plugin.interface import BuildHookInterface

FOLDERS = ("templates", "static", "migrations")


class CustomBuildHook(BuildHookInterface):
    def initialize(self, version, build_data):
        if self.target_name == "wheel" and version == "standard":
            for folder in FOLDERS:
                build_data["force_include"][folder] = f"xcapp/{folder}"
