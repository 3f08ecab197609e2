"""Folders only this user may enter: the state folder and the work folders that hold keys, the access database and
pages of case files."""

from __future__ import annotations

import os
import pwd
import stat
from pathlib import Path

from pipeline.errors import SettingsError


def private_folder(path: Path, what: str = "folder", follow_links: bool = True, create: bool = True) -> Path:
    """A folder only this user may enter: made 0700 when missing (whatever the umask), made 0700 when it is this
    user's and its group or others may read or enter it (a folder made by hand with ``mkdir``, 0755: it holds keys
    and the access database), refused when it is owned by another user, writable by its group or others (someone
    else may have put things in it), or (``follow_links=False``, e.g. in /tmp) a symbolic link."""
    path = Path(path)
    if create:
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            path.mkdir(mode=0o700)
        except FileExistsError:
            pass
    try:
        info = path.stat() if follow_links else path.lstat()
    except FileNotFoundError:
        if create:
            raise
        return path
    if stat.S_ISLNK(info.st_mode):
        raise SettingsError(f"{what} {path} is a symbolic link (someone else may have planted it): remove it")
    if not stat.S_ISDIR(info.st_mode):
        raise SettingsError(f"{what} {path} is not a folder")
    if info.st_uid != os.getuid():
        raise SettingsError(f"{what} {path} belongs to user {_user_name(info.st_uid)}, not to this user "
                            f"({_user_name(os.getuid())}): use a folder of your own")
    if info.st_mode & 0o022:
        raise SettingsError(f"{what} {path} is writable by its group or others (mode "
                            f"{stat.S_IMODE(info.st_mode):04o}): make it private (chmod 700)")
    if info.st_mode & 0o077:
        os.chmod(path, stat.S_IMODE(info.st_mode) & 0o700)
    return path


def _user_name(uid: int) -> str:
    try:
        return f"{pwd.getpwuid(uid).pw_name} (uid {uid})"
    except KeyError:
        return f"uid {uid}"
