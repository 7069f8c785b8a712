-- Calls into the organization's accounts since 7 days ago (UTC days) by principals of an account the topology does not list, one row per account called, caller's account and principal, ordered so, with the calls, the failed ones, the operations and the first and last call: a partner, a vendor, an attacker's account, or a member missing from organization.toml (accounts_missing_from_topology names those). Anonymous callers count as the account 'anonymous'; calls AWS services make are left out.
WITH calls AS (
    SELECT
        account,
        coalesce(useridentity.accountid, useridentity.sessioncontext.sessionissuer.accountid) AS caller_account,
        coalesce(useridentity.sessioncontext.sessionissuer.arn, useridentity.arn, useridentity.principalid) AS principal,
        eventsource,
        eventname,
        errorcode,
        eventtime
    FROM org_cloudtrail
    WHERE timestamp >= date_format(current_date - INTERVAL '7' DAY, '%Y/%m/%d')
      AND coalesce(useridentity.type, '') <> 'AWSService'
)
SELECT
    account,
    caller_account,
    principal,
    count(*) AS calls,
    count_if(errorcode IS NOT NULL) AS failed_calls,
    count(DISTINCT eventsource || ' ' || eventname) AS operations,
    min(eventtime) AS first_call,
    max(eventtime) AS last_call
FROM calls
WHERE caller_account IS NOT NULL
  AND NOT contains(split('{{organization_accounts}}', ','), caller_account)
GROUP BY 1, 2, 3
ORDER BY account, caller_account, principal;
