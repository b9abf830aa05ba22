"""Files the package writes and reads: written atomically, read with errors that say what is wrong.

A file is written under a temporary name in its own folder and moved to its final name only when
it is complete, so a full disk, a crash, Ctrl-C or a termination signal in the middle leaves the
earlier file as it was, never a truncated one. The move either replaces what is there (`os.replace`,
with --force) or refuses to (`os.link` to the final name fails if anything is there, atomically,
so two runs into one folder cannot replace each other's files: the later one gets `OutputTaken`).
A run's several outputs are staged first and moved in together (`write_together`): if one cannot
be written, none is. An .npz file is read without ever unpickling anything, its arrays' names,
shapes and size are read from the .npy headers before any data, and each way it can be unusable
gets its own message.
"""
import errno
import os
import uuid
import zipfile

import numpy as np

ZIP_SIGNATURE = b"PK"  # an .npz file is a zip archive of .npy files
NPY_SIGNATURE = b"\x93NUMPY"
PICKLED = ("{path}: holds something other than plain numeric arrays (a damaged file, or pickled Python objects, "
           "which are never loaded)")


class FileError(ValueError):
    """A file that cannot be used: missing, not a regular file, or without the expected content."""


class WriteError(OSError):
    """An output that could not be written (a full disk, a file-size limit, a read-only folder): the
    earlier files are as they were. str() says which file, why, and that nothing was replaced."""


class OutputTaken(FileExistsError):
    """An output path that another process filled while this one worked; `paths` lists them."""

    def __init__(self, paths):
        paths = [os.fspath(path) for path in paths]
        super().__init__(f"{', '.join(paths)} appeared while this run worked (another run into the same "
                         "folder?); kept, not replaced")
        self.paths = paths


def temporary_name(path):
    """A fresh hidden name beside `path`: `.NAME.<12 hex digits>.tmp`."""
    folder, name = os.path.split(os.fspath(path))
    return os.path.join(folder, f".{name}.{uuid.uuid4().hex[:12]}.tmp")


def _remove(path):
    try:
        os.remove(path)
    except FileNotFoundError:
        pass


def staged(path, write):
    """Call write(handle) on a new temporary file (binary) beside `path`, flushed to disk; return its
    name. If write() fails or is interrupted, the temporary file is removed and the error raised."""
    temporary = temporary_name(path)
    try:
        with open(temporary, "xb") as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
    except BaseException:
        _remove(temporary)
        raise
    return temporary


def move_in(temporary, path, replace):
    """Give the finished file `temporary` the name `path`: replacing what is there if `replace`, else
    only if nothing is (FileExistsError otherwise, and `temporary` is left for the caller)."""
    if replace:
        os.replace(temporary, path)
        return
    try:
        os.link(temporary, path)  # atomic, and fails if `path` exists
    except OSError as err:
        if err.errno in (errno.EEXIST,):
            raise
        if os.path.lexists(path):  # a file system without hard links: check, then rename
            raise FileExistsError(errno.EEXIST, "exists", path) from None
        os.rename(temporary, path)
        return
    _remove(temporary)


def write_atomically(path, write, replace=True):
    """Call write(handle) on a new temporary file (binary) next to `path`, then move it to `path`.

    If write() fails or is interrupted, the temporary file is removed and `path` is untouched. With
    replace=False an existing `path` is kept and `OutputTaken` raised (nothing is left behind).
    """
    write_together({path: write}, replace)


def write_together(writers, replace):
    """Write every output of {path: write(handle)} or none: stage them all as temporary files, then
    move them in. An error while staging (a full disk, say) is a `WriteError` and leaves every path as
    it was; with replace=False, a path that exists by then is `OutputTaken` and the outputs already
    moved in are taken back out. The temporary files never outlive the call."""
    temporaries, moved = {}, []
    try:
        for path, write in writers.items():
            try:
                temporaries[path] = staged(path, write)
            except OSError as err:
                raise WriteError(err.errno, f"cannot write {path} ({err.strerror or err}); nothing was "
                                            "replaced") from err
        taken = [path for path in temporaries if not replace and os.path.lexists(path)]
        if taken:
            raise OutputTaken(taken)
        for path, temporary in temporaries.items():
            try:
                move_in(temporary, path, replace)
            except FileExistsError:
                raise OutputTaken([path]) from None
            moved.append(path)
    except BaseException:
        if not replace:
            for path in moved:  # our own files, linked a moment ago: the other run's stay
                _remove(path)
        raise
    finally:
        for temporary in temporaries.values():
            _remove(temporary)


def unused_path(path):
    """`path` if nothing is there, else the first free `stem.1.ext`, `stem.2.ext`, … beside it."""
    return unused_paths([path], 0)[0]


def unused_paths(paths, number=1):
    """`stem.N.ext` for each of `paths` with the first N ≥ `number` that leaves all of them free (N = 0:
    the paths themselves), so that files written together keep a common number."""
    def numbered(path):
        stem, extension = os.path.splitext(path)
        return f"{stem}.{number}{extension}" if number else path

    while any(os.path.lexists(numbered(path)) for path in paths):
        number += 1
    return [numbered(path) for path in paths]


def npz_headers(path):
    """{name: (shape, dtype)} of the arrays in the .npz file at `path`, read from the .npy headers
    only (a few hundred bytes each), so that a file whose data would fill the memory is judged
    before any of it is read. Raises OSError, zipfile.BadZipFile or ValueError on a damaged file."""
    found = {}
    with zipfile.ZipFile(path) as archive:
        for member in archive.namelist():
            name = member[:-4] if member.endswith(".npy") else member
            with archive.open(member) as handle:
                version = np.lib.format.read_magic(handle)
                read = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                        else np.lib.format.read_array_header_2_0)
                shape, _, dtype = read(handle)
            found[name] = (shape, dtype)
    return found


def read_npz(path, limit=None, check=None):
    """The arrays of the .npz file at `path`, as {name: array}; never unpickles.

    FileError names the path and the first check that failed: it exists, is a regular file, starts
    like a zip archive (an .npy file or a text file does not), its .npy headers are readable, and
    check(headers) (given {name: (shape, dtype)}) accepts them; the arrays together take at most
    `limit` bytes; and np.load reads every array with allow_pickle=False (a truncated or damaged
    archive, or one holding Python objects, fails here). Only then is any array's data read.
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
        headers = npz_headers(path)
    except (OSError, EOFError, zipfile.BadZipFile, ValueError) as err:
        raise FileError(f"{path}: a damaged or truncated .npz file ({err})") from None
    if any(dtype.hasobject for _, dtype in headers.values()):
        raise FileError(PICKLED.format(path=path))
    if check is not None:
        check(headers)
    need = sum(int(np.prod(shape, dtype=float)) * dtype.itemsize for shape, dtype in headers.values())
    if limit is not None and need > limit:
        raise FileError(f"{path}: its arrays would take {need / 2**30:.3g} GiB of memory, above the limit of "
                        f"{limit / 2**30:.3g} GiB")
    try:
        with np.load(path, allow_pickle=False) as stored:
            return {name: stored[name] for name in stored.files}
    except (OSError, EOFError, zipfile.BadZipFile) as err:
        raise FileError(f"{path}: a damaged or truncated .npz file ({err})") from None
    except ValueError:  # numpy's message for pickled data would invite loading it unsafely
        raise FileError(PICKLED.format(path=path)) from None
