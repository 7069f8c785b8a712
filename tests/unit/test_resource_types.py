"""Every resource type a stack can hold is known to each table the tooling reads, so that adding a
resource fails here, naming the file to edit, rather than late on a real account or in review."""

from __future__ import annotations

import pytest

from definitions.deploy_permissions import PERMISSIONS_FILE, permissions
from definitions.paths import relative
from definitions.resource_types import EMULATOR_SUPPORT_FILE, REPLACEMENT_FILE, emulator_support, replacement_attributes

TABLES = {
    "deploy permissions": (PERMISSIONS_FILE, lambda: {t.removeprefix("resource.") for t in permissions() if t.startswith("resource.")}),
    "replacement attributes": (REPLACEMENT_FILE, lambda: set(replacement_attributes())),
    "emulator support": (EMULATOR_SUPPORT_FILE, lambda: set(emulator_support())),
}


@pytest.fixture(scope="module")
def resource_types(every_type: set[str]) -> set[str]:
    found = {t.removeprefix("resource.") for t in every_type if t.startswith("resource.")}
    assert len(found) > 25, "every stack's resource types were gathered"
    return found


@pytest.mark.parametrize("table", TABLES)
def test_every_resource_type_is_in_the_table(resource_types: set[str], table: str):
    path, listed = TABLES[table]
    missing = sorted(resource_types - listed())
    assert not missing, f"{relative(path)}: add {', '.join(missing)} (a stack holds them; see docs/architecture.md, Adding a resource)"


@pytest.mark.parametrize("table", TABLES)
def test_no_table_lists_a_type_no_stack_holds(resource_types: set[str], table: str):
    path, listed = TABLES[table]
    stale = sorted(listed() - resource_types)
    assert not stale, f"{relative(path)}: remove {', '.join(stale)} (no stack holds them)"
