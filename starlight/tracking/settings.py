"""The config's `tracking:` section: which backends are on, and what must hold before any job runs.

Nothing here imports wandb or tensorboard unless a backend is on; the credentials check imports wandb only for
`mode: online`.
"""

from __future__ import annotations

import importlib.util
import os

INSTALL = "pip install -e '.[tracking]'"
# The W&B section's defaults, as in workflow/schemas/config.schema.yaml.
WANDB_DEFAULTS = {"project": "starlight", "entity": None, "group": None, "mode": "offline"}


def wandb_settings(tracking: dict | None) -> dict | None:
    """The W&B section with its defaults filled in, or None when W&B is off (no section, or `mode: disabled`)."""
    section = (tracking or {}).get("wandb")
    if section is None:
        return None
    section = {**WANDB_DEFAULTS, **section}
    return None if section["mode"] == "disabled" else section


def tensorboard_on(tracking: dict | None) -> bool:
    return bool((tracking or {}).get("tensorboard"))


def backends(tracking: dict | None) -> list[str]:
    """The backends that are on, by their package's name."""
    return [name for name, on in (("wandb", wandb_settings(tracking) is not None),
                                  ("tensorboard", tensorboard_on(tracking))) if on]


def installed(package: str) -> bool:
    return importlib.util.find_spec(package) is not None


def problems(tracking: dict | None) -> list[str]:
    """What stops a run with this tracking section before any job, each naming its key: a backend that is on
    without its package, W&B online without credentials."""
    found = [f"tracking.{name}: it is on, but the {name} package is not installed; install the tracking extra "
             f"(wandb and tensorboard) with: {INSTALL}" for name in backends(tracking) if not installed(name)]
    wandb = wandb_settings(tracking)
    if wandb and wandb["mode"] == "online" and installed("wandb") and not has_credentials():
        found.append("tracking.wandb.mode: online needs W&B credentials and there are none: set WANDB_API_KEY in "
                     "the environment or run `wandb login` (credentials never go in the config), or log with "
                     "mode: offline and upload later with `wandb sync` (docs/tracking.md)")
    return found


def has_credentials() -> bool:
    """Whether W&B finds credentials where it looks for them: the environment, ~/.netrc (`wandb login`) or its
    settings file. Checked without a network connection."""
    if os.environ.get("WANDB_API_KEY") or os.environ.get("WANDB_IDENTITY_TOKEN_FILE"):
        return True
    from wandb.sdk import wandb_setup
    from wandb.sdk.lib.wbauth import read_netrc_auth

    settings = wandb_setup.singleton().settings
    if settings.api_key:
        return True
    try:
        return bool(read_netrc_auth(host=settings.base_url))
    except Exception:  # noqa: BLE001 - an unusable .netrc entry is no credential
        return False
