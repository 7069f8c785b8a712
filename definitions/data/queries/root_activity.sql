-- Calls made as this account's root user since 90 days ago, newest first, failed ones included; as CIS counts them, calls AWS services make for root and service events are left out.
SELECT
    eventtime,
    eventsource,
    eventname,
    awsregion,
    sourceipaddress,
    useragent,
    errorcode
FROM cloudtrail
WHERE timestamp >= date_format(current_date - INTERVAL '90' DAY, '%Y/%m/%d')
  AND useridentity.type = 'Root'
  AND useridentity.accountid = '{{account_id}}'
  AND useridentity.invokedby IS NULL
  AND eventtype <> 'AwsServiceEvent'
ORDER BY eventtime DESC, eventid;
