"""Where the refresh token lives between launches: the Android keystore, or a private file.

Only the refresh token is ever stored; access tokens stay in memory.
"""

from __future__ import annotations

import base64
import os
from pathlib import Path
from typing import Protocol

from mobile.core.platform_ import is_android


class TokenStore(Protocol):
    """Keeps one secret (the refresh token) between launches."""

    def load(self) -> str | None:
        """The stored token, or None."""

    def save(self, token: str) -> None:
        """Store the token, replacing any other."""

    def clear(self) -> None:
        """Forget the token."""


class MemoryTokenStore:
    """Keeps the token for this run only (nothing remembered between launches)."""

    def __init__(self) -> None:
        self._token: str | None = None

    def load(self) -> str | None:
        """The token, or None."""
        return self._token

    def save(self, token: str) -> None:
        """Keep the token."""
        self._token = token

    def clear(self) -> None:
        """Forget the token."""
        self._token = None


class FileTokenStore:
    """Desktop storage: a file readable by the user alone (mode 0600) in the app's data folder.

    This is file-based, not encrypted: anyone who can read the user's files can read it.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    def load(self) -> str | None:
        """The token in the file, or None when there is none."""
        try:
            token = self.path.read_text(encoding="utf-8").strip()
        except FileNotFoundError:
            return None
        return token or None

    def save(self, token: str) -> None:
        """Write the token to a new 0600 file, then move it into place atomically."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        scratch = self.path.with_name(self.path.name + ".new")
        # Created with 0600 from the start, so the token is never readable by others.
        fd = os.open(scratch, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(token)
        os.chmod(scratch, 0o600)  # an older file of that name may have had wider rights
        os.replace(scratch, self.path)

    def clear(self) -> None:
        """Delete the file."""
        self.path.unlink(missing_ok=True)


class AndroidKeystoreTokenStore:
    """Android: the token encrypted with an AES key that never leaves the Android Keystore.

    The ciphertext sits in the app's private storage; without the device's keystore key it
    cannot be read. Uses pyjnius, which the Android build bundles; not runnable on a desktop.
    """

    KEY_ALIAS = "nearbank-refresh-token"

    def __init__(self, path: str | Path) -> None:
        self.file = FileTokenStore(path)

    def _key(self):  # pragma: no cover - needs an Android device
        from jnius import autoclass

        key_store = autoclass("java.security.KeyStore").getInstance("AndroidKeyStore")
        key_store.load(None)
        if key_store.containsAlias(self.KEY_ALIAS):
            return key_store.getKey(self.KEY_ALIAS, None)
        properties = autoclass("android.security.keystore.KeyProperties")
        spec = (autoclass("android.security.keystore.KeyGenParameterSpec$Builder")(
            self.KEY_ALIAS, properties.PURPOSE_ENCRYPT | properties.PURPOSE_DECRYPT)
            .setBlockModes([properties.BLOCK_MODE_GCM])
            .setEncryptionPaddings([properties.ENCRYPTION_PADDING_NONE])
            .build())
        generator = autoclass("javax.crypto.KeyGenerator").getInstance(
            properties.KEY_ALGORITHM_AES, "AndroidKeyStore")
        generator.init(spec)
        return generator.generateKey()

    def load(self) -> str | None:  # pragma: no cover - needs an Android device
        """Decrypt the stored token, or None."""
        from jnius import autoclass

        stored = self.file.load()
        if stored is None:
            return None
        iv_text, _, data_text = stored.partition(":")
        cipher = autoclass("javax.crypto.Cipher").getInstance("AES/GCM/NoPadding")
        spec = autoclass("javax.crypto.spec.GCMParameterSpec")(128, base64.b64decode(iv_text))
        cipher.init(autoclass("javax.crypto.Cipher").DECRYPT_MODE, self._key(), spec)
        return bytes(cipher.doFinal(base64.b64decode(data_text))).decode("utf-8")

    def save(self, token: str) -> None:  # pragma: no cover - needs an Android device
        """Encrypt the token with the keystore key and store the ciphertext."""
        from jnius import autoclass

        cipher = autoclass("javax.crypto.Cipher").getInstance("AES/GCM/NoPadding")
        cipher.init(autoclass("javax.crypto.Cipher").ENCRYPT_MODE, self._key())
        data = bytes(cipher.doFinal(token.encode("utf-8")))
        iv = bytes(cipher.getIV())
        self.file.save(base64.b64encode(iv).decode() + ":" + base64.b64encode(data).decode())

    def clear(self) -> None:
        """Forget the token (the keystore key may stay; it decrypts nothing any more)."""
        self.file.clear()


def default_token_store(data_dir: str | Path) -> TokenStore:
    """The keystore on Android, a 0600 file elsewhere."""
    path = Path(data_dir) / "refresh-token"
    if is_android():
        return AndroidKeystoreTokenStore(path)
    return FileTokenStore(path)
