-- Calls made as this account's root user since 90 days ago, newest first, failed ones included; as CIS counts them, calls AWS services make for root and service events are left out.
WITH events AS (
    -- Past days from the compact table: every category (root's data events count too), and only these columns.
    SELECT eventtime, useridentity.type AS identity_type, useridentity.accountid AS identity_account,
           useridentity.invokedby AS invoked_by, eventsource, eventname, eventtype, awsregion, sourceipaddress, useragent,
           errorcode, eventid
    FROM cloudtrail_compact
    WHERE day >= date_format(current_date - INTERVAL '90' DAY, '%Y-%m-%d')
      AND day < date_format(current_date - INTERVAL '1' DAY, '%Y-%m-%d')
    UNION ALL
    -- Yesterday and today from the logs: the compaction copies a day once it is over.
    SELECT eventtime, useridentity.type AS identity_type, useridentity.accountid AS identity_account,
           useridentity.invokedby AS invoked_by, eventsource, eventname, eventtype, awsregion, sourceipaddress, useragent,
           errorcode, eventid
    FROM cloudtrail
    WHERE timestamp >= date_format(current_date - INTERVAL '1' DAY, '%Y/%m/%d')
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
ORDER BY eventtime DESC, eventid;
