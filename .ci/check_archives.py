"""Check what the built sdist and wheel contain (used by .ci/run; standard library only).

    python .ci/check_archives.py DIST_DIR

- the sdist holds exactly the files git tracks (the package, tests, derivation, figures, tools, the
  release files), plus the metadata setuptools writes (PKG-INFO, *.egg-info/);
- the wheel holds exactly the sdist's adjoint_ref/ files (the package and its data: solutions,
  statements), plus its .dist-info/ with the LICENSE; no tests, derivation or figures;
- both carry the version written in adjoint_ref/__init__.py.

Prints each archive's file count and exits 1 naming every missing or unexpected file.
"""
import glob
import os
import re
import subprocess
import sys
import tarfile
import zipfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NOT_SHIPPED = {".gitignore"}  # tracked files the sdist leaves out on purpose


def one(pattern):
    """The one file matching `pattern`; exits if there is not exactly one."""
    found = glob.glob(pattern)
    if len(found) != 1:
        sys.exit(f"expected one file {pattern}, found {found}")
    return found[0]


def version():
    """adjoint_ref.__version__ as written in the checkout."""
    with open(os.path.join(ROOT, "adjoint_ref", "__init__.py"), encoding="utf-8") as handle:
        return re.search(r'^__version__ = "([^"]+)"', handle.read(), re.M).group(1)


def tracked():
    """The files git tracks in the checkout, or None outside a git work tree."""
    try:
        out = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return None
    return set(out.split()) - NOT_SHIPPED


def sdist_files(path, top):
    """The sdist's regular files, relative to its top folder `top`."""
    with tarfile.open(path) as archive:
        return {m.name[len(top) + 1:] for m in archive.getmembers() if m.isfile()}


def wheel_files(path):
    """The wheel's files."""
    with zipfile.ZipFile(path) as archive:
        return {name for name in archive.namelist() if not name.endswith("/")}


def differences(label, have, want):
    """Lines naming the files `have` lacks and those it has beyond `want`."""
    return ([f"{label}: missing {name}" for name in sorted(want - have)]
            + [f"{label}: unexpected {name}" for name in sorted(have - want)])


def main(dist):
    """Check the sdist and wheel in `dist`; returns the exit status."""
    v = version()
    sdist = one(os.path.join(dist, f"adjoint_ref-{v}.tar.gz"))
    wheel = one(os.path.join(dist, f"adjoint_ref-{v}-py3-none-any.whl"))
    in_sdist = sdist_files(sdist, f"adjoint_ref-{v}")
    metadata = {name for name in in_sdist if name == "PKG-INFO" or name.startswith("adjoint_ref.egg-info/")}
    problems = []
    if "PKG-INFO" not in metadata:
        problems.append("sdist: no PKG-INFO")
    git = tracked()
    if git is None:
        print("not a git work tree: the sdist's files are not compared with git's")
    else:
        problems += differences("sdist", in_sdist - metadata, git)
    package = {name for name in in_sdist if name.startswith("adjoint_ref/")}
    in_wheel = wheel_files(wheel)
    dist_info = f"adjoint_ref-{v}.dist-info/"
    problems += differences("wheel", {n for n in in_wheel if not n.startswith(dist_info)}, package)
    for name in ("METADATA", "RECORD", "WHEEL", "entry_points.txt", "licenses/LICENSE"):
        if dist_info + name not in in_wheel:
            problems.append(f"wheel: missing {dist_info}{name}")
    with zipfile.ZipFile(wheel) as archive:
        if f"\nVersion: {v}\n" not in archive.read(dist_info + "METADATA").decode():
            problems.append(f"wheel: METADATA does not say Version: {v}")
    print(f"sdist {os.path.basename(sdist)}: {len(in_sdist)} files; "
          f"wheel {os.path.basename(wheel)}: {len(in_wheel)} files ({len(package)} in adjoint_ref/)")
    for line in problems:
        print(line, file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
