-- Management calls made as this account's root user since 90 days ago, newest first, failed ones included; as CIS counts them, calls AWS services make for root and service events are left out (root's object reads and writes are in the object investigations). Past days are read from the compact table, yesterday once the daily compaction has run (00:05 UTC).
WITH events AS (
    -- Past days from the compact table: management events only, and only these columns.
    SELECT eventtime, useridentity.type AS identity_type, useridentity.accountid AS identity_account,
           useridentity.invokedby AS invoked_by, eventsource, eventname, eventtype, awsregion, sourceipaddress, useragent,
           errorcode
    FROM cloudtrail_compact
    WHERE day >= date_format(current_date - INTERVAL '90' DAY, '%Y-%m-%d')
      AND day < date_format(current_date, '%Y-%m-%d')
      AND category = 'Management'
    UNION ALL
    -- Today from the logs: the compaction copies a day just after it ends (05 past midnight UTC).
    SELECT eventtime, useridentity.type AS identity_type, useridentity.accountid AS identity_account,
           useridentity.invokedby AS invoked_by, eventsource, eventname, eventtype, awsregion, sourceipaddress, useragent,
           errorcode
    FROM cloudtrail
    WHERE timestamp = date_format(current_date, '%Y/%m/%d')
      -- Records from before CloudTrail wrote eventCategory are management events.
      AND coalesce(eventcategory, 'Management') = 'Management'
)
SELECT
    eventtime,
    eventsource,
    eventname,
    awsregion,
    sourceipaddress,
    useragent,
    errorcode
FROM events
WHERE identity_type = 'Root'
  AND identity_account = '{{account_id}}'
  AND invoked_by IS NULL
  AND eventtype <> 'AwsServiceEvent'
ORDER BY eventtime DESC;
