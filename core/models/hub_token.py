"""The Hugging Face access token for gated models: never written into a project.

Looked up in the OS keyring (when the optional `keyring` package is installed), then
where huggingface_hub keeps it (HF_TOKEN, or the file `hf auth login` writes). A token the
user types once is stored in the keyring; without keyring it is kept for this session only.
"""

from __future__ import annotations

KEYRING_SERVICE = "FineTune Studio"
KEYRING_USER = "huggingface-token"

_session_token: str | None = None


def _keyring():
    try:
        import keyring  # optional extra (keyring)
    except ImportError:
        return None
    return keyring


def find_token() -> str | None:
    if _session_token:
        return _session_token
    keyring = _keyring()
    if keyring is not None:
        try:
            stored = keyring.get_password(KEYRING_SERVICE, KEYRING_USER)
        except Exception:  # no keyring backend on this desktop: fall through
            stored = None
        if stored:
            return stored
    # huggingface_hub is heavy: loaded on a hub call only
    from huggingface_hub import get_token

    return get_token()


def save_token(token: str) -> str:
    """Remember the token; returns where it went, in words for the user."""
    global _session_token
    token = token.strip()
    if not token:
        raise ValueError("The access token is empty: paste the token from huggingface.co.")
    keyring = _keyring()
    if keyring is not None:
        try:
            keyring.set_password(KEYRING_SERVICE, KEYRING_USER, token)
        except Exception as error:
            _session_token = token
            return f"kept for this session only (the OS keyring refused it: {error})"
        _session_token = None
        return "saved in the OS keyring"
    _session_token = token
    return "kept for this session only (install the keyring package to remember it)"


def forget_session_token() -> None:
    global _session_token
    _session_token = None
