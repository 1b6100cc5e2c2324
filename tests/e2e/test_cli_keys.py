"""`trainforge keys` as an operator runs it: create prints a working key once, list never shows it, revoke."""

from __future__ import annotations

import os
import subprocess

from trainforge.db.engine import make_engine
from trainforge.tenancy import KeyStore
from trainforge.testing import TRAINFORGE


def run(*args, env):
    done = subprocess.run([TRAINFORGE, *args], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_create_list_revoke(tmp_path):
    home = tmp_path / "home"
    env = {**os.environ, "TRAINFORGE_HOME": str(home), "COLUMNS": "200"}
    env.pop("TRAINFORGE_DATABASE_URL", None)
    token = run("keys", "create", "--tenant", "acme", "--name", "ci", env=env).strip().splitlines()[-1]
    engine = make_engine(f"sqlite:///{home / 'trainforge.db'}")
    principal = KeyStore(engine).authenticate(token)
    assert (principal.tenant_id, principal.is_admin) == ("acme", False)

    listing = run("keys", "list", env=env)
    assert principal.key_id in listing and "acme" in listing
    assert token.split("_", 2)[2] not in listing

    run("keys", "revoke", principal.key_id, env=env)
    assert KeyStore(engine).list("acme")[0].revoked_at is not None
    engine.dispose()
