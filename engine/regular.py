"""Open a file only when it is a regular file.

A path a user gives may name a FIFO (opening it waits forever for a writer), a device
(/dev/zero never ends), a socket or a folder. The file is opened without blocking and
checked on the open descriptor, so what is read is what was checked.
"""

import os
import stat
from typing import IO, Any, Union

_KINDS = ((stat.S_ISFIFO, "a FIFO"), (stat.S_ISCHR, "a character device"),
          (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"),
          (stat.S_ISDIR, "a folder"))


class NotRegularFile(Exception):
    """The path names something that is not a regular file; the message says what it is
    ("a FIFO", "a character device", ...)."""


def kind_of(mode: int) -> str:
    """What a file of this st_mode is, in words, for a message."""
    return next((name for test, name in _KINDS if test(mode)), "not a file")


def open_regular(path: Union[str, "os.PathLike[str]"], text: bool = False,
                 **text_options: Any) -> IO[Any]:
    """`path` opened for reading (bytes, or text with `text_options` such as encoding and
    newline). Raises NotRegularFile for anything but a regular file, OSError when it cannot
    be opened."""
    fd = os.open(os.fspath(path), os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise NotRegularFile(kind_of(mode))
        return os.fdopen(fd, "r", **text_options) if text else os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise
