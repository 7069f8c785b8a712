-- Calls that stop, delete or reconfigure this environment's trail (StopLogging, DeleteTrail, UpdateTrail, PutEventSelectors; StartLogging shows when logging resumed) since 90 days ago, newest first, failed attempts included. Past days are read from the compact table, yesterday once the daily compaction has run (00:05 UTC).
WITH events AS (
    -- Past days from the compact table: management events only, and only these columns.
    SELECT eventtime, coalesce(useridentity.arn, useridentity.invokedby, useridentity.principalid) AS principal,
           eventsource, eventname, awsregion, requestparameters, sourceipaddress, errorcode
    FROM cloudtrail_compact
    WHERE day >= date_format(current_date - INTERVAL '90' DAY, '%Y-%m-%d')
      AND day < date_format(current_date, '%Y-%m-%d')
      AND category = 'Management'
    UNION ALL
    -- Today from the logs: the compaction copies a day just after it ends (05 past midnight UTC).
    SELECT eventtime, coalesce(useridentity.arn, useridentity.invokedby, useridentity.principalid) AS principal,
           eventsource, eventname, awsregion, requestparameters, sourceipaddress, errorcode
    FROM cloudtrail
    WHERE timestamp = date_format(current_date, '%Y/%m/%d')
)
SELECT
    eventtime,
    principal,
    eventname,
    awsregion,
    sourceipaddress,
    errorcode
FROM events
WHERE eventsource = 'cloudtrail.amazonaws.com'
  AND eventname IN ('StopLogging', 'StartLogging', 'DeleteTrail', 'UpdateTrail', 'PutEventSelectors')
  -- The trail is named by its name or its ARN, as the caller chose.
  AND coalesce(json_extract_scalar(requestparameters, '$.name'), json_extract_scalar(requestparameters, '$.trailName'))
      IN ('{{trail_name}}', '{{trail_arn}}')
ORDER BY eventtime DESC;
