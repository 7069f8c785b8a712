-- Accounts that AWS Organizations reports joining the organization since 30 days ago (UTC days), created (CreateAccountResult) or invited (InviteAccountToOrganization), that the topology does not list, one row per account and event, oldest first: until organization.toml lists an account, org_cloudtrail leaves its logs out (account_cloudtrail reads them, with account = its id). Reads the management account's logs of the region that records Organizations' calls.
SELECT
    coalesce(json_extract_scalar(serviceeventdetails, '$.createAccountStatus.accountId'),
             json_extract_scalar(requestparameters, '$.target.id')) AS missing_account,
    eventname,
    eventtime,
    coalesce(useridentity.arn, useridentity.invokedby) AS principal
FROM org_cloudtrail
WHERE timestamp >= date_format(current_date - INTERVAL '30' DAY, '%Y/%m/%d')
  AND account = '{{management_account}}'
  AND region = '{{organizations_region}}'
  AND eventsource = 'organizations.amazonaws.com'
  AND errorcode IS NULL
  AND (
      (eventname = 'CreateAccountResult'
       AND json_extract_scalar(serviceeventdetails, '$.createAccountStatus.state') = 'SUCCEEDED')
      OR (eventname = 'InviteAccountToOrganization'
          AND json_extract_scalar(requestparameters, '$.target.type') = 'ACCOUNT')
  )
  AND NOT contains(split('{{organization_accounts}}', ','),
                   coalesce(json_extract_scalar(serviceeventdetails, '$.createAccountStatus.accountId'),
                            json_extract_scalar(requestparameters, '$.target.id')))
ORDER BY eventtime, missing_account, eventname;
