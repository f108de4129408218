"""The organisation the tests' rows belong to (the sandbox's orgs are its own)."""

from __future__ import annotations

from usagekit.row import Org

#: A real-looking org (not fictional): what a dataset synced from Genesys Cloud holds.
ORG = Org("5d1c8f1e-7a2b-4c3d-9e4f-0a1b2c3d4e5f", "Test Org", "mypurecloud.ie")
#: Its folder under a dataset's root.
ORG_DIR = f"org={ORG.id}"
