"""The organization's dangers that the environment stacks hold no resource for: a change of the
CloudTrail delegated administrator, a detached control policy, and a trail that leaves its
management events to the organization trail (operations/review.py)."""

from __future__ import annotations

from operations.review import ResourceChange, resource_dangers

ADMIN = "aws_cloudtrail_organization_delegated_admin_account.trail-admin"


def test_a_new_cloudtrail_delegated_administrator_is_dangerous():
    change = ResourceChange("org-governance", ADMIN, ("delete", "create"), before={"account_id": "222222222222"},
                            after={"account_id": "333333333333"}, attributes=("account_id",), replace_paths=("account_id",))
    assert any(d.startswith('the CloudTrail delegated administrator changes ("222222222222" → "333333333333")')
               for d in resource_dangers(change))


def test_registering_the_first_delegated_administrator_is_not_a_danger():
    change = ResourceChange("org-governance", ADMIN, ("create",), after={"account_id": "222222222222"})
    assert list(resource_dangers(change)) == []


def test_a_detached_control_policy_is_dangerous():
    change = ResourceChange("org-governance", "aws_organizations_policy_attachment.protect-trail", ("delete",),
                            before={"policy_id": "p-abcd1234", "target_id": "r-ab12"})
    assert list(resource_dangers(change)) == ["removed: turns off a service or resource control policy (it is detached)"]


def _trail(*categories: str) -> dict:
    return {"advanced_event_selector": [{"name": c, "field_selector": [{"field": "eventCategory", "equals": [c]}]}
                                        for c in categories]}


def test_a_trail_that_stops_recording_management_events_is_dangerous():
    change = ResourceChange("dev", "aws_cloudtrail.audit-trail", ("update",), before=_trail("Management", "Data"),
                            after=_trail("Data"), attributes=("advanced_event_selector",))
    (danger,) = resource_dangers(change)
    assert danger.startswith("the trail stops recording management events")
    widened = ResourceChange("dev", "aws_cloudtrail.audit-trail", ("update",), before=_trail("Data"),
                             after=_trail("Management", "Data"), attributes=("advanced_event_selector",))
    assert list(resource_dangers(widened)) == []
