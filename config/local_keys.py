"""Keys of a local DEBUG run (`make run`), kept in files under the data directory.

Production passes its keys in the environment and refuses to start without them; a local
run gets random keys created once, readable only by their owner, and reused by every later
run and every process of the run (the web server, the Huey consumer, manage.py commands),
so nothing secret lives in the repository.
"""

import base64
import os
import secrets
import tempfile
from collections.abc import Callable
from pathlib import Path


def django_secret_key() -> str:
    return secrets.token_urlsafe(50)


def fernet_key() -> str:
    """What `cryptography.fernet.Fernet.generate_key()` makes, without importing it here."""
    return base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()


def read_or_create(path: Path, *, make: Callable[[], str]) -> str:
    """The key in `path`; on first use a new one, written with mode 0600.

    The key is written to a private temporary file and linked into place, so a process
    starting at the same moment sees either no file or the whole key, never half of it.
    """
    if not path.exists():
        fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")  # mode 0600
        try:
            with os.fdopen(fd, "w") as handle:
                handle.write(make() + "\n")
            os.link(temporary, path)
        except FileExistsError:
            pass  # another process was first: use its key
        finally:
            os.unlink(temporary)
    key = path.read_text().strip()
    if not key:
        raise OSError(f"{path} is empty: delete it to have a new key created.")
    return key
