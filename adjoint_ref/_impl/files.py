"""Files the package writes and reads: written atomically, read with errors that say what is wrong.

A file is written under a temporary name in its own folder and renamed to its final name only when
it is complete (`os.replace` is atomic), so a full disk, a crash or Ctrl-C in the middle leaves the
earlier file as it was, never a truncated one. An .npz file is read without ever unpickling
anything, and each way it can be unusable gets its own message.
"""
import os
import uuid
import zipfile

import numpy as np

ZIP_SIGNATURE = b"PK"  # an .npz file is a zip archive of .npy files
NPY_SIGNATURE = b"\x93NUMPY"


class FileError(ValueError):
    """A file that cannot be used: missing, not a regular file, or without the expected content."""


def write_atomically(path, write):
    """Call write(handle) on a new temporary file (binary) next to `path`, then rename it to `path`.

    If write() fails or is interrupted, the temporary file is removed and `path` is untouched.
    """
    folder, name = os.path.split(os.fspath(path))
    temporary = os.path.join(folder, f".{name}.{uuid.uuid4().hex[:12]}.tmp")
    try:
        with open(temporary, "xb") as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.remove(temporary)
        raise


def unused_path(path):
    """`path` if nothing is there, else the first free `stem.1.ext`, `stem.2.ext`, … beside it."""
    stem, extension = os.path.splitext(path)
    candidate, number = path, 0
    while os.path.lexists(candidate):
        number += 1
        candidate = f"{stem}.{number}{extension}"
    return candidate


def read_npz(path):
    """The arrays of the .npz file at `path`, as {name: array}; never unpickles.

    FileError names the path and the first check that failed: it exists, is a regular file, starts
    like a zip archive (an .npy file or a text file does not), and np.load reads every array with
    allow_pickle=False (a truncated or damaged archive, or one holding Python objects, fails here).
    """
    path = os.fspath(path)
    if not os.path.lexists(path):
        raise FileError(f"{path}: no such file")
    if os.path.isdir(path):
        raise FileError(f"{path}: is a folder, not an .npz file")
    if not os.path.isfile(path):
        raise FileError(f"{path}: not a regular file")
    with open(path, "rb") as handle:
        head = handle.read(len(NPY_SIGNATURE))
    if head.startswith(NPY_SIGNATURE):
        raise FileError(f"{path}: an .npy file (one unnamed array), not an .npz archive of named arrays")
    if not head.startswith(ZIP_SIGNATURE):
        raise FileError(f"{path}: not an .npz file (it does not start like a zip archive)")
    try:
        with np.load(path, allow_pickle=False) as stored:
            return {name: stored[name] for name in stored.files}
    except (OSError, EOFError, zipfile.BadZipFile) as err:
        raise FileError(f"{path}: a damaged or truncated .npz file ({err})") from None
    except ValueError:  # numpy's message for pickled data would invite loading it unsafely
        raise FileError(f"{path}: holds something other than plain numeric arrays (a damaged file, or "
                        "pickled Python objects, which are never loaded)") from None
