"""The trail, its log group, the alarms, the alert topics, the audit-path rules and the dashboard."""
