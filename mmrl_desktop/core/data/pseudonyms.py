"""Pseudonymous item ids for exports (``export --pseudonymize``, the Export dialog's check box).

Item ids are file stems or manifest ids, so they can carry a name (``DOE_JOHN_normal0``). With
pseudonyms an export shows ``item-<16 hex>`` instead: the first 64 bits of
HMAC-SHA256(project key, item id). The key is 32 random bytes made on first use and kept in the
project folder (``pseudonym.key``, readable by its owner only); it never goes into an export. So:

- the same item gets the same pseudonym in every export of the project (answers can be joined
  across exports), and a different one in another project;
- without the key nobody can test a guessed name against a pseudonym;
- no mapping file is written. To map back on your own machine, export the same log once without
  pseudonyms and join the two files on ``event_id`` (each event has the same id in both).

Do not share ``pseudonym.key`` (or the project folder) with whoever gets the pseudonymous export.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from pathlib import Path

from mmrl_desktop.core.errors import UserError

KEY_FILE = "pseudonym.key"
PREFIX = "item-"
_HEX = 16


def project_key(project_root: str | Path) -> bytes:
    """The project's pseudonym key, made (and stored, mode 600) on first use. The key file is
    written whole to a temp file and then hard-linked into place, so it never appears empty or
    half written, and a second export that races the first one uses the first one's key."""
    path = Path(project_root) / KEY_FILE
    key = _read_key(path)
    if key is not None:
        return key
    key = secrets.token_bytes(32)
    tmp = path.with_name(f".{KEY_FILE}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    try:
        fd = os.open(str(tmp), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="ascii") as fh:
            fh.write(key.hex() + "\n")
            fh.flush()
            os.fsync(fh.fileno())
        try:
            os.link(tmp, path)  # appears whole or not at all; never replaces another key
        except FileExistsError:  # another export made it first: use theirs
            theirs = _read_key(path)
            if theirs is None:
                raise UserError(
                    f"the pseudonym key {path} is empty; move it away and export again."
                ) from None
            return theirs
    except OSError as err:
        raise UserError(
            f"the pseudonym key cannot be stored in {path.parent} ({err.strerror or err})."
        ) from None
    finally:
        tmp.unlink(missing_ok=True)
    return key


def _read_key(path: Path) -> bytes | None:
    """The stored key; None when there is none yet (no file, or an empty one that an older
    version left when it was killed before writing the key: no export used it)."""
    try:
        text = path.read_text(encoding="ascii").strip()
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as err:
        raise UserError(f"the pseudonym key {path} cannot be read ({err}).") from None
    if not text:
        try:
            path.unlink()
        except OSError:
            pass
        return None
    try:
        key = bytes.fromhex(text)
    except ValueError:
        key = b""
    if len(key) < 16:
        raise UserError(f"the pseudonym key {path} is damaged; it must be 64 hex digits.")
    return key


def pseudonym(key: bytes, item_id: str) -> str:
    """``item-`` + the first 64 bits of HMAC-SHA256(key, item id), in hex."""
    digest = hmac.new(key, item_id.encode("utf-8"), hashlib.sha256).hexdigest()
    return PREFIX + digest[:_HEX]
